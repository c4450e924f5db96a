// Package outbox is the transactional enqueue of the queue module: a job
// written into the apex_outbox table inside the caller's database
// transaction exists if and only if that transaction commits. A [Relay]
// moves committed rows, in id order and in batches, to the queue's
// backend and deletes them once the backend has them: at least once, and
// since the job's ID is fixed when the row is written, a row sent twice
// (a relay that died between the enqueue and its delete) is a duplicate
// the backend ignores, never a second job.
//
// Several relays may run at once (one per instance): on Postgres and
// MariaDB ≥ 10.6 / MySQL ≥ 8 each takes rows with SELECT ... FOR UPDATE
// SKIP LOCKED, so they share the work without waiting on each other; on
// SQLite a relay's transaction takes the single write lock first.
// On Postgres, a write notifies the relays (LISTEN/NOTIFY), which then
// relay at once instead of at their next poll.
//
// queue.Client.EnqueueTx writes the rows; queue.Module runs the
// migrations and the relay when queue.outbox.enabled is set.
package outbox

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/apexgo/apex/internal/sqldb"
	"github.com/apexgo/apex/queue/port"
)

// Table is the outbox table; VersionTable records its migrations.
const (
	Table        = "apex_outbox"
	VersionTable = "apex_outbox_version"
	// Channel is the Postgres NOTIFY channel of new rows.
	Channel = "apex_outbox"
)

// Defaults of [Config].
const (
	// DefaultBatch is the most rows a relay moves in one transaction.
	DefaultBatch = 500
	// DefaultPoll is how often a relay looks for rows when nothing woke it.
	DefaultPoll = time.Second
)

//go:embed migrations
var migrations embed.FS

// Migrations returns the goose migrations of the outbox table for driver
// ("postgres", "mysql" or "sqlite": data.Postgres, data.MySQL, data.SQLite).
func Migrations(driver string) (fs.FS, error) {
	switch driver {
	case sqldb.Postgres, sqldb.MySQL, sqldb.SQLite:
		return fs.Sub(migrations, "migrations/"+driver)
	}
	return nil, fmt.Errorf("outbox: no migrations for driver %q", driver)
}

// Migrate creates or upgrades the outbox table of db, recording its
// versions in VersionTable (apart from the app's own migrations), under
// data's migration lock so instances starting together apply each once.
func Migrate(ctx context.Context, db *gorm.DB, log *zap.Logger) error {
	dialect := sqldb.Dialect(db)
	fsys, err := Migrations(dialect)
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	m, err := sqldb.NewMigrator(sqlDB, fsys, sqldb.MigratorParams{Dialect: dialect, Table: VersionTable, Log: log})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", Table, err)
	}
	return nil
}

// row is one outbox row.
type row struct {
	ID      int64  `gorm:"column:id;primaryKey"`
	JobID   string `gorm:"column:job_id"`
	Message string `gorm:"column:message"`
}

// Insert writes msgs into the outbox in tx (a transaction of the
// database the relay reads). With notify on Postgres, the relays are
// woken when tx commits.
func Insert(tx *gorm.DB, msgs []port.Message, notify bool) error {
	rows := make([]row, len(msgs))
	for i, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("outbox: encode job %s: %w", m.ID, err)
		}
		rows[i] = row{JobID: m.ID, Message: string(b)}
	}
	if err := tx.Table(Table).Omit("id").Create(&rows).Error; err != nil {
		return fmt.Errorf("outbox: insert into %s: %w", Table, err)
	}
	if notify && sqldb.Dialect(tx) == sqldb.Postgres {
		if err := tx.Exec("SELECT pg_notify(?, '')", Channel).Error; err != nil {
			return fmt.Errorf("outbox: notify: %w", err)
		}
	}
	return nil
}

// Waiting returns the message of job id while it waits in the outbox
// (its transaction committed, the relay has not handed it on yet); ok is
// false when no row holds it.
func Waiting(ctx context.Context, db *gorm.DB, id string) (m port.Message, ok bool, err error) {
	var msgs []string
	if err := db.WithContext(ctx).Table(Table).Where("job_id = ?", id).Limit(1).Pluck("message", &msgs).Error; err != nil {
		return port.Message{}, false, fmt.Errorf("outbox: read job %s: %w", id, err)
	}
	if len(msgs) == 0 {
		return port.Message{}, false, nil
	}
	if err := json.Unmarshal([]byte(msgs[0]), &m); err != nil {
		return port.Message{}, false, fmt.Errorf("outbox: decode job %s: %w", id, err)
	}
	return m, true, nil
}

// errTaken: another relay held some of the rows read; nothing was sent.
var errTaken = errors.New("outbox: rows taken by another relay")

// IsRetryable reports whether an error of [Relay.RelayOnce] left every row
// for a next call that may follow at once: another relay held some of the
// rows, or the database reported a deadlock or serialization failure.
func IsRetryable(err error) bool { return errors.Is(err, errTaken) || sqldb.Retryable(err) }

// Config configures a [Relay]. Zero fields take the defaults.
type Config struct {
	// Batch is the most rows moved per transaction. Default DefaultBatch.
	Batch int
	// Poll is how often the relay looks for rows when nothing woke it;
	// it bounds the added latency on MySQL and SQLite. Default DefaultPoll.
	Poll time.Duration
	// Listen wakes the relay on Postgres notifications (one connection of
	// the pool held for it). Default false.
	Listen bool
}

// Relay moves committed outbox rows to a queue backend.
type Relay struct {
	db      *gorm.DB
	backend port.Queue
	cfg     Config
	log     *zap.Logger
	driver  string

	mu   sync.Mutex // one batch at a time in this process
	wake chan struct{}
	stop context.CancelFunc
	done sync.WaitGroup
}

// NewRelay returns a relay from db's outbox to backend, not started.
func NewRelay(db *gorm.DB, backend port.Queue, cfg Config, log *zap.Logger) (*Relay, error) {
	if db == nil || backend == nil {
		return nil, errors.New("outbox: NewRelay needs a database and a backend")
	}
	if cfg.Batch < 0 || cfg.Poll < 0 {
		return nil, errors.New("outbox: Batch and Poll must not be negative")
	}
	cfg.Batch = cmp.Or(cfg.Batch, DefaultBatch)
	cfg.Poll = cmp.Or(cfg.Poll, DefaultPoll)
	if log == nil {
		log = zap.NewNop()
	}
	return &Relay{db: db, backend: backend, cfg: cfg, log: log, driver: sqldb.Dialect(db), wake: make(chan struct{}, 1)}, nil
}

// Wake makes a started relay look for rows now.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// RelayOnce moves up to Batch rows, oldest first, to the backend in one
// database transaction and returns how many it moved. Rows the backend
// refused (ErrFull) stay for the next call; rows another relay holds are
// skipped. An error for which [IsRetryable] holds left every row for the
// next call.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	moved := 0
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := "SELECT id, job_id, message FROM " + Table + " ORDER BY id LIMIT ?"
		if r.driver == sqldb.SQLite {
			// Take the one write lock now, so that relays in other
			// processes wait instead of reading the same rows.
			if err := tx.Exec("DELETE FROM " + Table + " WHERE 0").Error; err != nil {
				return err
			}
		} else {
			q += " FOR UPDATE SKIP LOCKED"
		}
		var rows []row
		if err := tx.Raw(q, r.cfg.Batch).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		msgs := make([]port.Message, len(rows))
		ids := make([]int64, len(rows))
		for i, rw := range rows {
			if err := json.Unmarshal([]byte(rw.Message), &msgs[i]); err != nil {
				return fmt.Errorf("outbox: row %d (job %s) does not decode: %w", rw.ID, rw.JobID, err)
			}
			ids[i] = rw.ID
		}
		// Delete first: the rows are ours only if this deletes them all
		// (another relay that read one of them would block here, then
		// delete none), and a failure here has sent nothing.
		del := tx.Exec("DELETE FROM "+Table+" WHERE id IN ?", ids)
		if del.Error != nil {
			return del.Error
		}
		if del.RowsAffected != int64(len(ids)) {
			return errTaken
		}
		res, err := r.backend.Enqueue(ctx, msgs)
		if err != nil {
			return err
		}
		var keep []row
		for i, e := range res {
			if e.Err != nil {
				r.log.Warn("outbox: the backend refused a job; kept for the next relay", zap.String("job_id", rows[i].JobID), zap.Error(e.Err))
				keep = append(keep, rows[i])
			}
		}
		if len(keep) > 0 {
			if err := tx.Table(Table).Create(&keep).Error; err != nil {
				return err
			}
		}
		done := ids[:len(ids)-len(keep)]
		moved = len(done)
		return nil
	}, r.txOptions())
	if err != nil {
		return 0, fmt.Errorf("outbox: relay: %w", err)
	}
	return moved, nil
}

// txOptions: read committed on MySQL, whose default repeatable read
// takes gap locks that make concurrent relays deadlock.
func (r *Relay) txOptions() *sql.TxOptions {
	if r.driver == sqldb.MySQL {
		return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return nil
}

// Start runs the relay until Stop: a batch whenever woken (Wake, a
// Postgres notification) or every Poll, and batch after batch while
// full ones come.
func (r *Relay) Start() error {
	if r.stop != nil {
		return errors.New("outbox: relay already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	if r.cfg.Listen && r.driver == sqldb.Postgres {
		r.done.Add(1)
		go r.listen(ctx)
	}
	r.done.Add(1)
	go r.run(ctx)
	return nil
}

func (r *Relay) run(ctx context.Context) {
	defer r.done.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
		}
		wait := r.cfg.Poll
		n, err := r.RelayOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case IsRetryable(err):
			wait = 0 // a deadlock or serialization failure: nothing was deleted
		case err != nil:
			r.log.Warn("outbox: relay failed; retrying", zap.Error(err))
		case n > 0:
			wait = 0 // maybe more: go on at once
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// listen holds one connection on LISTEN and wakes the relay on every
// notification, reconnecting after Poll when it fails.
func (r *Relay) listen(ctx context.Context) {
	defer r.done.Done()
	sqlDB, err := r.db.DB()
	if err != nil {
		r.log.Warn("outbox: no LISTEN: polling only", zap.Error(err))
		return
	}
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, sqlDB)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("outbox: LISTEN connection lost; polling until it is back", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.cfg.Poll):
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context, sqlDB *sql.DB) error {
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("outbox: LISTEN needs the pgx driver, not %T", dc)
		}
		pc := c.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+Channel); err != nil {
			return err
		}
		defer func() {
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, _ = pc.Exec(uctx, "UNLISTEN "+Channel)
		}()
		r.Wake() // rows written while not listening
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return err
			}
			r.Wake()
		}
	})
}

// Stop ends the relay, waiting for a running batch until ctx ends.
func (r *Relay) Stop(ctx context.Context) error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	done := make(chan struct{})
	go func() { r.done.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
