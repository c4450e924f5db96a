-- +goose Up
CREATE TABLE orders (
    id          VARCHAR(32)  PRIMARY KEY,
    reference   VARCHAR(64)  NOT NULL UNIQUE,
    customer    VARCHAR(100) NOT NULL,
    total_cents BIGINT       NOT NULL,
    created_at  BIGINT       NOT NULL -- Unix milliseconds: one type on every database
);
CREATE INDEX orders_customer ON orders (customer, created_at);

-- +goose Down
DROP TABLE orders;
