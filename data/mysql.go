package data

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
)

// mysqlDialect settles, at the first successful [Ping], what gorm's MySQL
// dialector would have settled while opening had it been let contact the
// server: the server's version and, from it, MariaDB or MySQL syntax.
// [Open] leaves the server alone (SkipInitializeWithVersion) so that a
// MySQL database, like the others, is first contacted in the start hook,
// with retries inside the start budget.
type mysqlDialect struct {
	mu   sync.Mutex
	done bool
}

const mysqlDialectName = "apex:mysql_dialect"

func (*mysqlDialect) Name() string              { return mysqlDialectName }
func (*mysqlDialect) Initialize(*gorm.DB) error { return nil }

// settleDialect reads the server's version, once per database from
// [Open], and applies it to db's dialector as gorm's own initialisation
// does. It runs before db is used, in Ping.
func settleDialect(ctx context.Context, db *gorm.DB, sqlDB *sql.DB) error {
	p, ok := db.Config.Plugins[mysqlDialectName].(*mysqlDialect)
	if !ok {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return nil
	}
	d, ok := db.Dialector.(*mysql.Dialector)
	if !ok {
		p.done = true
		return nil
	}
	var version string
	if err := sqlDB.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return err
	}
	if err := applyMySQLVersion(db, d, version); err != nil {
		return err
	}
	p.done = true
	return nil
}

// applyMySQLVersion is the version-dependent part of gorm.io/driver/mysql's
// Dialector.Initialize (v1.6), run after the fact on an open db.
func applyMySQLVersion(db *gorm.DB, d *mysql.Dialector, version string) error {
	c := d.Config
	c.ServerVersion = version
	returning := false
	switch {
	case strings.Contains(version, "MariaDB"):
		c.DontSupportRenameIndex = true
		c.DontSupportRenameColumn = true
		c.DontSupportForShareClause = true
		c.DontSupportNullAsDefaultValue = true
		returning = versionAtLeast(version, 10, 5)
	case strings.HasPrefix(version, "5.6."):
		c.DontSupportRenameIndex = true
		c.DontSupportRenameColumn = true
		c.DontSupportForShareClause = true
		c.DontSupportDropConstraint = true
	case strings.HasPrefix(version, "5.7."):
		c.DontSupportRenameColumn = true
		c.DontSupportForShareClause = true
		c.DontSupportDropConstraint = true
	case strings.HasPrefix(version, "5."):
		c.DisableDatetimePrecision = true
		c.DontSupportRenameIndex = true
		c.DontSupportRenameColumn = true
		c.DontSupportForShareClause = true
		c.DontSupportDropConstraint = true
	}
	if strings.Contains(version, "TiDB") {
		c.DontSupportRenameColumnUnique = true
	}
	if c.DontSupportForShareClause {
		db.ClauseBuilders[mysql.ClauseFor] = d.ClauseBuilders()[mysql.ClauseFor]
	}
	if !returning || c.DisableWithReturning {
		return nil
	}
	cfg := &callbacks.Config{
		CreateClauses: append(slices.Clone(mysql.CreateClauses), "RETURNING"),
		UpdateClauses: append(slices.Clone(mysql.UpdateClauses), "RETURNING"),
		DeleteClauses: append(slices.Clone(mysql.DeleteClauses), "RETURNING"),
	}
	cb := db.Callback()
	if err := cb.Create().Replace("gorm:create", callbacks.Create(cfg)); err != nil {
		return err
	}
	cb.Create().Clauses = cfg.CreateClauses
	if err := cb.Update().Replace("gorm:update", callbacks.Update(cfg)); err != nil {
		return err
	}
	cb.Update().Clauses = cfg.UpdateClauses
	if err := cb.Delete().Replace("gorm:delete", callbacks.Delete(cfg)); err != nil {
		return err
	}
	cb.Delete().Clauses = cfg.DeleteClauses
	return nil
}

// versionAtLeast reports whether version (such as "10.11.6-MariaDB")
// is major.minor or later.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	num := func(i int) int {
		if i >= len(parts) {
			return 0
		}
		s := parts[i]
		end := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		n, _ := strconv.Atoi(s[:end])
		return n
	}
	if m := num(0); m != major {
		return m > major
	}
	return num(1) >= minor
}
