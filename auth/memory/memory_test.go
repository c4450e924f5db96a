package memory_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/authtest"
	"github.com/apexgo/apex/auth/memory"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	authtest.Run(t, authtest.Features{}, func(t *testing.T, _ string) authtest.Backend {
		return authtest.Backend{
			Revocations: memory.NewRevocations(memory.Config{}),
			Refresh:     memory.NewRefresh(memory.Config{}),
		}
	})
}

func TestBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	r := memory.NewRevocations(memory.Config{MaxEntries: 2, Now: clock})
	for i, id := range []string{"a", "b"} {
		if err := r.Revoke(t.Context(), id, now.Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Revoke(t.Context(), "c", now.Add(time.Hour)); !errors.Is(err, auth.ErrStoreFull) {
		t.Fatalf("Revoke past MaxEntries: %v, want ErrStoreFull", err)
	}
	now = now.Add(90 * time.Second) // "a" has expired: its room is reused
	if err := r.Revoke(t.Context(), "c", now.Add(time.Hour)); err != nil {
		t.Fatalf("Revoke once an entry expired: %v", err)
	}

	s := memory.NewRefresh(memory.Config{MaxEntries: 1, Now: clock})
	rec := auth.RefreshRecord{Family: "f", Hash: []byte("h1"), Subject: "s", ExpiresAt: now.Add(time.Minute)}
	if err := s.Create(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	rec2 := rec
	rec2.Family = "g"
	if err := s.Create(t.Context(), rec2); !errors.Is(err, auth.ErrStoreFull) {
		t.Fatalf("Create past MaxEntries: %v, want ErrStoreFull", err)
	}
	now = now.Add(2 * time.Minute) // the first family has expired: its room is reused
	rec2.ExpiresAt = now.Add(time.Minute)
	if err := s.Create(t.Context(), rec2); err != nil {
		t.Fatalf("Create once the store's entry expired: %v", err)
	}
}

// Many writes over expired entries keep the store small: sweeping keeps up.
func TestSweepKeepsUp(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	r := memory.NewRevocations(memory.Config{MaxEntries: 1000, Now: clock})
	for i := range 100_000 {
		if err := r.Revoke(t.Context(), fmt.Sprint(i), now.Add(time.Second)); err != nil {
			t.Fatalf("Revoke %d: %v", i, err)
		}
		now = now.Add(10 * time.Millisecond) // each entry lives 100 writes
	}
}
