package authtest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
)

// Grace checks the refresh grace window: within it, a spent token
// presented again gets what its rotation issued (RotateParams.Sealed,
// the same pair through Tokens), concurrent refreshes of one token all
// get one pair; past it, the token is reuse and revokes its family.
func Grace(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Refresh/GraceReplay", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		next := record(fam, hash(), time.Hour)
		sealed := []byte("the sealed pair \x00\xff")
		p := auth.RotateParams{Family: fam, Hash: first.Hash, Next: next, Sealed: sealed, Grace: 2 * time.Second}
		if _, err := s.Rotate(ctx(t), p); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		again := p
		again.Next, again.Sealed = record(fam, hash(), time.Hour), []byte("another")
		got, err := s.Rotate(ctx(t), again)
		if err != nil {
			t.Fatalf("Rotate of the spent token within the grace: %v", err)
		}
		if string(got.Sealed) != string(sealed) || got.Subject != first.Subject {
			t.Fatalf("a replay returned %+v; want the first rotation's Sealed %q and the family's subject", got, sealed)
		}
		// The replay changed nothing: the token issued first is the live one.
		_, err = s.Rotate(ctx(t), auth.RotateParams{Family: fam, Hash: again.Next.Hash, Next: record(fam, hash(), time.Hour)})
		wantInvalid(t, err, false)
		time.Sleep(2100 * time.Millisecond)
		_, err = s.Rotate(ctx(t), again)
		wantInvalid(t, err, true)
		_, err = s.Rotate(ctx(t), auth.RotateParams{Family: fam, Hash: next.Hash, Next: record(fam, hash(), time.Hour)})
		wantInvalid(t, err, false)
	})

	t.Run("Refresh/NoGraceWithoutSealed", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		p := auth.RotateParams{Family: fam, Hash: first.Hash, Next: record(fam, hash(), time.Hour), Grace: time.Minute}
		if _, err := s.Rotate(ctx(t), p); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		p.Next = record(fam, hash(), time.Hour)
		_, err := s.Rotate(ctx(t), p)
		wantInvalid(t, err, true)
	})

	t.Run("Tokens/GraceSamePair", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend), grace(2*time.Second))
		p1 := issue(t, j, alice)
		p2 := refresh(t, j, p1.RefreshToken)
		again := refresh(t, j, p1.RefreshToken)
		if again.AccessToken != p2.AccessToken || again.RefreshToken != p2.RefreshToken ||
			!again.AccessExpiresAt.Equal(p2.AccessExpiresAt) || !again.RefreshExpiresAt.Equal(p2.RefreshExpiresAt) || again.ExpiresIn != p2.ExpiresIn {
			t.Fatalf("a second refresh within the grace returned %+v, want the first's %+v", again, p2)
		}
		if _, err := j.Verify(ctx(t), p2.AccessToken); err != nil {
			t.Fatalf("Verify of the pair: %v", err)
		}
		// Past the grace: reuse, the family and its access token revoked.
		time.Sleep(2100 * time.Millisecond)
		_, err := j.Refresh(ctx(t), p1.RefreshToken)
		wantInvalid(t, err, true)
		if _, err := j.Verify(ctx(t), p2.AccessToken); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("Verify after reuse past the grace: %v, want ErrRevoked", err)
		}
		_, err = j.Refresh(ctx(t), p2.RefreshToken)
		wantInvalid(t, err, false)
	})

	t.Run("Tokens/GraceNeedsTheToken", func(t *testing.T) {
		t.Parallel()
		// A pair kept for the grace opens only with the token's secret:
		// another token of the same family gets nothing from it.
		j := tokens(t, fresh(t, newBackend), grace(time.Minute))
		p1 := issue(t, j, alice)
		p2 := refresh(t, j, p1.RefreshToken)
		p3 := refresh(t, j, p2.RefreshToken)
		if p3.RefreshToken == p2.RefreshToken {
			t.Fatal("refreshing the new token returned it again")
		}
		if again := refresh(t, j, p2.RefreshToken); again.RefreshToken != p3.RefreshToken {
			t.Fatal("a replay of the second token did not return the third pair")
		}
	})

	t.Run("Tokens/GraceConcurrentRefresh", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend), grace(time.Minute))
		p := issue(t, j, alice)
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				pair, err := j.Refresh(ctx(t), p.RefreshToken)
				if err != nil {
					t.Errorf("Refresh: %v", err)
					return
				}
				mu.Lock()
				got[pair.RefreshToken]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(got) != 1 {
			t.Fatalf("20 concurrent refreshes of one token within the grace returned %d different pairs, want 1", len(got))
		}
	})
}

// SharedGrace checks the grace window across two instances on one
// backend: a refresh on one, the same token on the other within the grace
// gets the same pair, and past it is reuse. It skips unless
// Features.Shared; [Shared] runs it.
func SharedGrace(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Tokens/GraceSharedByPeers", func(t *testing.T) {
		t.Parallel()
		one, other := peers(t, f, newBackend)
		a, peer := tokens(t, one, grace(2*time.Second)), tokens(t, other, grace(2*time.Second))
		p1 := issue(t, a, alice)
		p2 := refresh(t, a, p1.RefreshToken)
		if again := refresh(t, peer, p1.RefreshToken); again.AccessToken != p2.AccessToken || again.RefreshToken != p2.RefreshToken {
			t.Fatalf("the peer's refresh within the grace returned another pair")
		}
		time.Sleep(2100 * time.Millisecond)
		_, err := peer.Refresh(ctx(t), p1.RefreshToken)
		wantInvalid(t, err, true)
		_, err = a.Refresh(ctx(t), p2.RefreshToken)
		wantInvalid(t, err, false)
	})
}
