package data_test

import (
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data/datatest"
)

// tcpProxy forwards connections from addr to target once listen is
// called; until then nothing listens at addr.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
	wg           sync.WaitGroup
}

// newTCPProxy reserves a free local port for a proxy to target.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String(), target: target}
	_ = ln.Close()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) listen() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(u, c); _ = u.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, u); _ = c.Close() })
		}
	})
	return nil
}

func (p *tcpProxy) close() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// MySQL is first contacted in the start hook, which retries within the
// start budget: a server that starts listening after the start began is
// reached, as Postgres is.
func TestModuleMySQLReachableLate(t *testing.T) {
	t.Parallel()
	dsn := datatest.MySQLDSN(t) // user@tcp(host:port)/db?...
	open, end := strings.Index(dsn, "tcp("), strings.Index(dsn, ")/")
	if open < 0 || end < open {
		t.Fatalf("unexpected DSN form %q", dsn)
	}
	proxy := newTCPProxy(t, dsn[open+4:end])
	late := dsn[:open+4] + proxy.addr + dsn[end:]

	const delay = time.Second
	go func() {
		time.Sleep(delay)
		if err := proxy.listen(); err != nil {
			t.Errorf("proxy: %v", err)
		}
	}()
	var db *gorm.DB
	start := time.Now()
	a, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{
		"data.dsn": late, "data.pool.connect_timeout": "200ms", "service.start_timeout": "15s",
	}), apptest.With(fx.Populate(&db)), apptest.StartTimeout(20*time.Second))
	if err != nil {
		t.Fatalf("start with MySQL listening %v after the start began: %v", delay, err)
	}
	_ = a // stopped when the test ends
	if took := time.Since(start); took < delay {
		t.Fatalf("started in %v, before the server listened", took)
	}
	var one int
	if err := db.Raw("SELECT 1").Scan(&one).Error; err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
	}
}

// The dialect settled at the first ping is the one gorm chooses when it
// reads the server's version while opening.
func TestMySQLDialectMatchesGorm(t *testing.T) {
	t.Parallel()
	dsn := datatest.MySQLDSN(t)
	ours := datatest.Open(t, dsn)
	ref, err := gorm.Open(mysql.Open(dsn), &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := ref.DB(); err == nil {
		t.Cleanup(func() { _ = sqlDB.Close() })
	}
	oc, rc := ours.Dialector.(*mysql.Dialector).Config, ref.Dialector.(*mysql.Dialector).Config
	if oc.ServerVersion == "" || oc.ServerVersion != rc.ServerVersion {
		t.Fatalf("server version %q, gorm's %q", oc.ServerVersion, rc.ServerVersion)
	}
	flags := func(c *mysql.Config) []bool {
		return []bool{c.DisableDatetimePrecision, c.DontSupportRenameIndex, c.DontSupportRenameColumn, c.DontSupportForShareClause,
			c.DontSupportNullAsDefaultValue, c.DontSupportRenameColumnUnique, c.DontSupportDropConstraint}
	}
	if !slices.Equal(flags(oc), flags(rc)) {
		t.Errorf("flags %v, gorm's %v", flags(oc), flags(rc))
	}
	for name, pair := range map[string][2][]string{
		"create": {ours.Callback().Create().Clauses, ref.Callback().Create().Clauses},
		"update": {ours.Callback().Update().Clauses, ref.Callback().Update().Clauses},
		"delete": {ours.Callback().Delete().Clauses, ref.Callback().Delete().Clauses},
	} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Errorf("%s clauses %v, gorm's %v", name, pair[0], pair[1])
		}
	}
	_, oFor := ours.ClauseBuilders[mysql.ClauseFor]
	_, rFor := ref.ClauseBuilders[mysql.ClauseFor]
	if oFor != rFor {
		t.Errorf("FOR clause builder: %v, gorm's %v", oFor, rFor)
	}
	// RETURNING (MariaDB 10.5+) or LastInsertId: the ID comes back.
	type gadget struct {
		ID   uint `gorm:"primaryKey"`
		Name string
	}
	if err := ours.AutoMigrate(&gadget{}); err != nil {
		t.Fatal(err)
	}
	g := gadget{Name: "x"}
	if err := ours.Create(&g).Error; err != nil || g.ID == 0 {
		t.Fatalf("create: id %d, %v", g.ID, err)
	}
	var got gadget
	if err := ours.First(&got, g.ID).Error; err != nil || got.Name != "x" {
		t.Fatalf("first: %+v, %v", got, err)
	}
}
