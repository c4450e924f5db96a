package authtest

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
)

// Rotate checks RefreshStore.Rotate: a rotation returns the replaced
// record and keeps the family's start; unknown and expired tokens are
// invalid (not reuse); of concurrent rotations of one token exactly one
// succeeds.
func Rotate(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Refresh/Rotate", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		next := record(fam, hash(), time.Hour)
		old, err := s.Rotate(ctx(t), fam, first.Hash, next)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if old.Family != fam || old.Subject != "user-1" || !bytes.Equal(old.Data, first.Data) || !bytes.Equal(old.Hash, first.Hash) {
			t.Fatalf("Rotate returned %+v; want the first record's family, subject, data and hash", old)
		}
		if d := old.ExpiresAt.Sub(first.ExpiresAt); d > time.Second || d < -time.Second {
			t.Fatalf("Rotate returned expiry %v, want about %v", old.ExpiresAt, first.ExpiresAt)
		}
		third := record(fam, hash(), time.Hour)
		third.Started = time.Now().Add(time.Hour) // ignored: the family's start stays
		second, err := s.Rotate(ctx(t), fam, next.Hash, third)
		if err != nil {
			t.Fatalf("second Rotate: %v", err)
		}
		for _, r := range []auth.RefreshRecord{old, second} {
			if !r.Started.Equal(first.Started) {
				t.Fatalf("Rotate returned Started %v, want the family's %v", r.Started, first.Started)
			}
		}
	})

	t.Run("Refresh/Unknown", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		_, err := s.Rotate(ctx(t), newID(), hash(), record("x", hash(), time.Hour))
		wantInvalid(t, err, false)
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		// A wrong secret for a live family is not reuse, and harms nothing.
		_, err = s.Rotate(ctx(t), fam, hash(), record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
		if _, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour)); err != nil {
			t.Fatalf("Rotate after a wrong guess: %v", err)
		}
	})

	t.Run("Refresh/Expired", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam := newID()
		first := record(fam, hash(), 150*time.Millisecond)
		create(t, s, first)
		time.Sleep(300 * time.Millisecond)
		_, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
	})

	t.Run("Refresh/ConcurrentRotate", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		var ok, invalid atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				_, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, auth.ErrInvalidRefresh):
					invalid.Add(1)
				default:
					t.Errorf("Rotate: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || invalid.Load() != 99 {
			t.Fatalf("100 concurrent Rotates of one token: %d succeeded, %d invalid; want 1 and 99", ok.Load(), invalid.Load())
		}
	})
}
