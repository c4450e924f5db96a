package observe

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/app"
)

// syncBuffer records writes and syncs.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	syncs  int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	return nil
}

func (s *syncBuffer) state() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.writes
}

func TestBufferedSyncerBatchesAndFlushes(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	b := newBufferedSyncer(out, 64, 50*time.Millisecond)
	for range 3 {
		if _, err := b.Write([]byte("0123456789\n")); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := out.state(); s != "" {
		t.Fatalf("written before the buffer filled or the interval passed: %q", s)
	}
	// The timer flushes without another write.
	deadline := time.Now().Add(2 * time.Second)
	for {
		if s, w := out.state(); strings.Count(s, "\n") == 3 {
			if w != 1 {
				t.Fatalf("%d writes for 3 buffered lines, want 1", w)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("buffered lines not flushed after the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Overflow flushes first; a line larger than the buffer goes straight through.
	big := strings.Repeat("x", 100) + "\n"
	if _, err := b.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if s, _ := out.state(); !strings.HasSuffix(s, "a\n"+big) {
		t.Fatalf("order lost on overflow: %q", s)
	}
	if _, err := b.Write([]byte("tail\n")); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if s, _ := out.state(); !strings.HasSuffix(s, "tail\n") {
		t.Fatalf("Sync did not flush: %q", s)
	}
}

func TestBufferedLoggerFlushesErrorsAtOnce(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	bws := newBufferedSyncer(out, 1<<20, time.Hour)
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(&flushAt{Core: zapcore.NewCore(enc, bws, zapcore.InfoLevel), ws: bws, level: zapcore.ErrorLevel}).With(zap.String("k", "v"))
	log.Info("first")
	if s, _ := out.state(); s != "" {
		t.Fatalf("info written at once: %q", s)
	}
	log.Error("boom")
	s, _ := out.state()
	if !strings.Contains(s, `"first"`) || !strings.Contains(s, `"boom"`) || !strings.Contains(s, `"k":"v"`) {
		t.Fatalf("an ERROR did not flush the buffer in order: %q", s)
	}
	out.mu.Lock()
	syncs := out.syncs
	out.mu.Unlock()
	if syncs != 0 {
		t.Fatalf("an ERROR line synced the output %d times; it must only write it (no fsync per error)", syncs)
	}
}

func TestConsoleOutputIsNotBuffered(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig().Log
	cfg.Format = "console"
	cfg.Output = t.TempDir() + "/log"
	log, err := NewLogger(cfg, app.Info{Name: "x", Env: "development"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := log.Core().(*flushAt); ok {
		t.Fatal("console output is buffered")
	}
}
