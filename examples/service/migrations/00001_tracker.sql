-- +goose Up
-- Times are Unix milliseconds (UTC): exact and the same on SQLite,
-- Postgres and MySQL, whose TIMESTAMP types differ in precision and zone.
CREATE TABLE tracker_users (
    id            VARCHAR(40)  NOT NULL PRIMARY KEY,
    tenant        VARCHAR(64)  NOT NULL,
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    roles         VARCHAR(255) NOT NULL,
    created_at    BIGINT       NOT NULL,
    UNIQUE (tenant, email)
);

CREATE TABLE tracker_projects (
    id         VARCHAR(40)  NOT NULL PRIMARY KEY,
    tenant     VARCHAR(64)  NOT NULL,
    name       VARCHAR(200) NOT NULL,
    owner      VARCHAR(40)  NOT NULL,
    created_at BIGINT       NOT NULL,
    UNIQUE (tenant, name)
);

CREATE TABLE tracker_tasks (
    id         VARCHAR(40)  NOT NULL PRIMARY KEY,
    tenant     VARCHAR(64)  NOT NULL,
    project_id VARCHAR(40)  NOT NULL REFERENCES tracker_projects (id),
    title      VARCHAR(500) NOT NULL,
    done       BOOLEAN      NOT NULL,
    created_at BIGINT       NOT NULL
);
CREATE INDEX tracker_tasks_project ON tracker_tasks (tenant, project_id, created_at);

CREATE TABLE tracker_snapshots (
    job_id   VARCHAR(128) NOT NULL PRIMARY KEY,
    tick     BIGINT       NOT NULL,
    projects BIGINT       NOT NULL,
    tasks    BIGINT       NOT NULL
);

-- +goose Down
DROP TABLE tracker_snapshots;
DROP TABLE tracker_tasks;
DROP TABLE tracker_projects;
DROP TABLE tracker_users;
