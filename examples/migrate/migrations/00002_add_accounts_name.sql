-- +goose Up
ALTER TABLE accounts ADD COLUMN name VARCHAR(200);

-- +goose Down
ALTER TABLE accounts DROP COLUMN name;
