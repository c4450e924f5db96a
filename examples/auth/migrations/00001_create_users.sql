-- +goose Up
CREATE TABLE users (
    id            VARCHAR(40)  NOT NULL PRIMARY KEY,
    email         VARCHAR(254) NOT NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    roles         VARCHAR(255) NOT NULL,
    created_at    TIMESTAMP    NOT NULL
);

-- +goose Down
DROP TABLE users;
