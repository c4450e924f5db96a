-- +goose Up
CREATE TABLE apex_outbox (
    id         BIGSERIAL    PRIMARY KEY,
    job_id     VARCHAR(255) NOT NULL,
    message    TEXT         NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE apex_outbox;
