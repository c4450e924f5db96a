package authtest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Revocations checks Revoke and Revoked on one instance: unknown IDs, a
// revocation visible at once (even after a "not revoked" answer was
// cached), expiry, a past expiry, a canceled context.
func Revocations(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Revocations/Unknown", func(t *testing.T) {
		t.Parallel()
		r := fresh(t, newBackend).Revocations
		wantRevoked(t, r, newID(), time.Now().Add(time.Minute), false)
	})

	t.Run("Revocations/RevokeIsImmediate", func(t *testing.T) {
		t.Parallel()
		r := fresh(t, newBackend).Revocations
		id, other, exp := newID(), newID(), time.Now().Add(time.Minute)
		// Ask first, so that a backend caching "not revoked" has cached it.
		wantRevoked(t, r, id, exp, false)
		wantRevoked(t, r, other, exp, false)
		if err := r.Revoke(ctx(t), id, exp); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		wantRevoked(t, r, id, exp, true)
		wantRevoked(t, r, other, exp, false)
		if err := r.Revoke(ctx(t), id, exp); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
		wantRevoked(t, r, id, exp, true)
	})

	t.Run("Revocations/Expire", func(t *testing.T) {
		t.Parallel()
		r := fresh(t, newBackend).Revocations
		id, until := newID(), time.Now().Add(200*time.Millisecond)
		if err := r.Revoke(ctx(t), id, until); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if time.Now().Before(until.Add(-100 * time.Millisecond)) {
			wantRevoked(t, r, id, until, true)
		}
		time.Sleep(time.Until(until))
		eventually(t, r, id, until, false, 3*time.Second)
	})

	t.Run("Revocations/PastIsNoop", func(t *testing.T) {
		t.Parallel()
		r := fresh(t, newBackend).Revocations
		id := newID()
		if err := r.Revoke(ctx(t), id, time.Now().Add(-time.Second)); err != nil {
			t.Fatalf("Revoke of an expired token: %v", err)
		}
		wantRevoked(t, r, id, time.Now().Add(time.Minute), false)
	})

	t.Run("Revocations/CanceledContext", func(t *testing.T) {
		t.Parallel()
		r := fresh(t, newBackend).Revocations
		c, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.Revoked(c, newID(), time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Revoked with a canceled context: %v, want context.Canceled", err)
		}
		if err := r.Revoke(c, newID(), time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Revoke with a canceled context: %v, want context.Canceled", err)
		}
	})
}
