-- +goose Up
-- queue.Client.Status finds a job waiting for the relay by its ID.
CREATE INDEX apex_outbox_job_id ON apex_outbox (job_id);

-- +goose Down
DROP INDEX apex_outbox_job_id;
