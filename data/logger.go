package data

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
)

// zapLogger is gorm's logger on zap: statements slower than slow at WARN
// with the SQL (placeholders, never the values) and the duration; failed
// statements at ERROR, except not-found (normal), constraint violations
// (answered 409, at WARN) and cancellations (the caller left).
type zapLogger struct {
	log  *zap.Logger
	slow time.Duration
}

func newLogger(log *zap.Logger, name string, slow time.Duration) gormlogger.Interface {
	return &zapLogger{log: log.Named("data").With(zap.String("database", name)), slow: slow}
}

func (l *zapLogger) LogMode(gormlogger.LogLevel) gormlogger.Interface { return l }

func (l *zapLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.Debug(fmt.Sprintf(msg, args...), l.ctxFields(ctx)...)
}

func (l *zapLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.Warn(fmt.Sprintf(msg, args...), l.ctxFields(ctx)...)
}

func (l *zapLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.Error(fmt.Sprintf(msg, args...), l.ctxFields(ctx)...)
}

// ParamsFilter implements gorm.ParamsFilter: values never reach the logs.
func (l *zapLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

func (l *zapLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	fc = placeholdersOnly(ctx, fc)
	switch {
	case err != nil:
		if errors.Is(err, ErrNotFound) || errors.Is(err, context.Canceled) {
			return
		}
		sql, rows := fc()
		fields := append(l.ctxFields(ctx), zap.String("error", Redact(err)), zap.String("sql", sql), zap.Duration("duration", elapsed), zap.Int64("rows", rows))
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrForeignKey) || errors.Is(err, ErrRetryable) {
			l.log.Warn("query failed", fields...)
			return
		}
		l.log.Error("query failed", fields...)
	case l.slow > 0 && elapsed > l.slow:
		sql, rows := fc()
		l.log.Warn("slow query", append(l.ctxFields(ctx), zap.String("sql", sql), zap.Duration("duration", elapsed),
			zap.Duration("threshold", l.slow), zap.Int64("rows", rows))...)
	}
}

func (l *zapLogger) ctxFields(ctx context.Context) []zap.Field {
	fields := make([]zap.Field, 0, 8)
	if ctx == nil {
		return fields
	}
	if id := observe.RequestID(ctx); id != "" {
		fields = append(fields, zap.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		fields = append(fields, zap.String("trace_id", sc.TraceID().String()))
	}
	if id, ok := app.Tenant(ctx); ok {
		fields = append(fields, zap.String("tenant", id))
	}
	return fields
}

// gorm's DB.Scan runs its statement under gorm's own recording logger,
// whose params filter is the global logger.RecorderParamsFilter, and then
// hands this logger the SQL with the values written in. The placeholders
// plugin keeps the statement's SQL as built, with its placeholders, in a
// holder in the statement's context, and placeholdersOnly logs that
// instead. Apex sets no gorm global.
type placeholders struct{}

func (placeholders) Name() string { return "apex:placeholders" }

func (placeholders) Initialize(db *gorm.DB) error {
	return db.Callback().Row().After("*").Register("apex:placeholders", func(db *gorm.DB) {
		stmt := db.Statement
		if stmt == nil || stmt.SQL.Len() == 0 {
			return
		}
		h, ok := stmt.Context.Value(sqlHolderKey{}).(*sqlHolder)
		if !ok {
			h = new(sqlHolder)
			stmt.Context = context.WithValue(stmt.Context, sqlHolderKey{}, h)
		}
		sql := stmt.SQL.String()
		h.sql.Store(&sql)
	})
}

type sqlHolderKey struct{}

// sqlHolder is the SQL of the last row statement run on a gorm
// statement, until the logger takes it.
type sqlHolder struct{ sql atomic.Pointer[string] }

// placeholdersOnly returns fc, or, when ctx holds the SQL of the row
// statement being logged, a function returning that SQL instead of fc's.
func placeholdersOnly(ctx context.Context, fc func() (string, int64)) func() (string, int64) {
	if ctx == nil {
		return fc
	}
	h, ok := ctx.Value(sqlHolderKey{}).(*sqlHolder)
	if !ok {
		return fc
	}
	sql := h.sql.Swap(nil)
	if sql == nil {
		return fc
	}
	return func() (string, int64) {
		_, rows := fc()
		return *sql, rows
	}
}

// quoted matches a quoted literal in a server's error message, with the
// word before it: Postgres quotes values in double quotes ("invalid input
// syntax for type integer: \"abc\""), MySQL in single ones ("Duplicate
// entry 'abc' for key 'token'").
var quoted = regexp.MustCompile(`(\w+\s)?("[^"]*"|'[^']*')`)

// names are the words after which a server quotes a name, kept by Redact.
var names = map[string]bool{"key ": true, "constraint ": true, "table ": true, "Table ": true, "column ": true,
	"relation ": true, "database ": true, "schema ": true, "index ": true, "function ": true, "type ": true}

// Redact returns err's message with the quoted literals of Postgres and
// MySQL/MariaDB error messages (which can be bound values: "Duplicate
// entry 'alice@example.com' for key 'email'") replaced by '?', keeping
// quoted names of constraints, keys, tables and columns. Postgres's
// constraint is added when the message does not name it. apex logs
// statement errors through it; other errors are returned unchanged.
func Redact(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var pg *pgconn.PgError
	var my *mysqldrv.MySQLError
	switch {
	case errors.As(err, &pg):
		msg = redactQuoted(msg)
		if pg.ConstraintName != "" && !strings.Contains(msg, pg.ConstraintName) {
			msg += " constraint " + strconv.Quote(pg.ConstraintName)
		}
	case errors.As(err, &my):
		msg = redactQuoted(msg)
	}
	return msg
}

func redactQuoted(msg string) string {
	return quoted.ReplaceAllStringFunc(msg, func(m string) string {
		sub := quoted.FindStringSubmatch(m)
		if names[sub[1]] {
			return m
		}
		q := sub[2][:1]
		return sub[1] + q + "?" + q
	})
}
