// Package service is apex's reference service, a multi-tenant task
// tracker laid out the hexagonal way, with three binaries from one core:
//
//   - domain: entities and ports (storage, mail); the standard library only.
//   - domain/domaintest: the ports' contract, run by every adapter.
//   - app: the use cases, over the domain's ports and small ports of their own.
//   - gormrepo, memrepo: storage adapters (gorm through data.Registry; memory).
//   - smtpmail, memmail: mail adapters (SMTP on go-mail; memory).
//   - core: apex settings, adapters and job handlers shared by the binaries.
//   - httpapi: the HTTP handlers.
//   - cmd/api, cmd/worker, cmd/migrate: the binaries.
//
// The tests in this directory build the binaries and run one scenario
// on one process with no infrastructure and on a cluster of three
// processes on Postgres and Redis (equivalence_test.go), and check the
// Dockerfile and compose.yaml (deploy_test.go). See README.md.
package service
