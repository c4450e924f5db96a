-- +goose Up
CREATE TABLE accounts (
    id         VARCHAR(32)  PRIMARY KEY,
    email      VARCHAR(200) NOT NULL UNIQUE,
    created_at TIMESTAMP    NOT NULL
);

-- +goose Down
DROP TABLE accounts;
