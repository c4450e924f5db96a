package observe

import (
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// bufferedSyncer batches log writes: it writes to ws when its buffer
// would overflow, on Sync, and at most interval after the first byte
// entered an empty buffer (a one-shot timer, so no goroutine outlives the
// app). Entries at ERROR or above are flushed at once by [flushAt].
type bufferedSyncer struct {
	mu       sync.Mutex
	ws       zapcore.WriteSyncer
	buf      []byte
	size     int
	interval time.Duration
	timer    *time.Timer
	armed    bool
}

func newBufferedSyncer(ws zapcore.WriteSyncer, size int, interval time.Duration) *bufferedSyncer {
	return &bufferedSyncer{ws: ws, size: size, interval: interval, buf: make([]byte, 0, size)}
}

func (b *bufferedSyncer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.size {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > b.size {
			return b.ws.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	if !b.armed {
		b.armed = true
		if b.timer == nil {
			b.timer = time.AfterFunc(b.interval, b.flushLater)
		} else {
			b.timer.Reset(b.interval)
		}
	}
	return len(p), nil
}

func (b *bufferedSyncer) flushLater() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	_ = b.flushLocked() // the next Write or Sync reports a persistent error
}

func (b *bufferedSyncer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.ws.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Flush writes what is buffered, without syncing ws (an fsync per ERROR
// line would make an error storm slow).
func (b *bufferedSyncer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// Sync writes what is buffered and syncs ws.
func (b *bufferedSyncer) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.flushLocked(); err != nil {
		return err
	}
	return b.ws.Sync()
}

// flushAt is a core that flushes ws after writing an entry at level or
// above, so that errors reach the output at once even when info lines
// are buffered.
type flushAt struct {
	zapcore.Core
	ws    *bufferedSyncer
	level zapcore.Level
}

func (c *flushAt) With(fields []zapcore.Field) zapcore.Core {
	return &flushAt{Core: c.Core.With(fields), ws: c.ws, level: c.level}
}

func (c *flushAt) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *flushAt) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if err := c.Core.Write(e, fields); err != nil {
		return err
	}
	if e.Level >= c.level {
		return c.ws.Flush()
	}
	return nil
}
