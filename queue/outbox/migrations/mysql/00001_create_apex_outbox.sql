-- +goose Up
CREATE TABLE apex_outbox (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    job_id     VARCHAR(255) NOT NULL,
    message    LONGTEXT     NOT NULL,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- +goose Down
DROP TABLE apex_outbox;
