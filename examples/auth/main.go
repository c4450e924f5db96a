// Command auth is an account service on apex: register, login
// (rate-limited per client IP and per email), refresh, logout, password
// change (which ends every session), the caller's profile and an
// admin-only route. Users live in the data
// module's database. It runs with nothing installed — SQLite at
// var/apex.db, in-process rate limits and revocations, a random signing
// secret (with a WARN) — and on Postgres, Redis and a real secret by
// configuration:
//
//	go run ./examples/auth
//	curl -s localhost:8080/auth/register -H 'Content-Type: application/json' -d '{"email":"ada@example.com","password":"correct horse battery"}'
//	curl -s localhost:8080/auth/login    -H 'Content-Type: application/json' -d '{"email":"ada@example.com","password":"correct horse battery"}'
//	curl -s localhost:8080/me -H "Authorization: Bearer $ACCESS_TOKEN"
//	curl -s localhost:8080/auth/refresh  -H 'Content-Type: application/json' -d "{\"refresh_token\":\"$REFRESH_TOKEN\"}"
//	curl -s -X POST localhost:8080/auth/logout -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' -d "{\"refresh_token\":\"$REFRESH_TOKEN\"}"
//
//	APP_ACCOUNTS__ADMINS=ada@example.com APP_AUTH__SECRET=$(openssl rand -base64 48) \
//	APP_DATA__DSN=postgres://postgres@localhost:5432/app APP_REDIS__ADDR=localhost:6379 go run ./examples/auth
package main

import (
	"go.uber.org/fx"

	"github.com/apexgo/apex"
)

func main() {
	apex.Run(options()...)
}

// options is the whole app: apex's modules and the accounts module.
func options() []fx.Option {
	return append(apex.Modules, accountsModule)
}
