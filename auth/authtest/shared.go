package authtest

import (
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
)

// Shared checks that two instances on one backend see each other's writes
// (revocations, rotations, reuse); it skips unless Features.Shared.
func Shared(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Revocations/SharedByPeers", func(t *testing.T) {
		t.Parallel()
		a, b := peers(t, f, newBackend)
		id, exp := newID(), time.Now().Add(time.Minute)
		wantRevoked(t, a.Revocations, id, exp, false)
		wantRevoked(t, b.Revocations, id, exp, false) // b caches "not revoked"
		if err := a.Revocations.Revoke(ctx(t), id, exp); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		wantRevoked(t, a.Revocations, id, exp, true)
		eventually(t, b.Revocations, id, exp, true, 2*time.Second)
		// And the other way round.
		id2 := newID()
		wantRevoked(t, a.Revocations, id2, exp, false)
		if err := b.Revocations.Revoke(ctx(t), id2, exp); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		eventually(t, a.Revocations, id2, exp, true, 2*time.Second)
	})

	t.Run("Refresh/SharedByPeers", func(t *testing.T) {
		t.Parallel()
		a, b := peers(t, f, newBackend)
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, a.Refresh, first)
		next := record(fam, hash(), time.Hour)
		if _, err := b.Refresh.Rotate(ctx(t), fam, first.Hash, next); err != nil {
			t.Fatalf("Rotate on the peer: %v", err)
		}
		_, err := a.Refresh.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, true)
	})

	t.Run("Tokens/RevocationSharedByPeers", func(t *testing.T) {
		t.Parallel()
		one, other := peers(t, f, newBackend)
		a, peer := tokens(t, one), tokens(t, other)
		p := issue(t, a, alice)
		id, err := peer.Verify(ctx(t), p.AccessToken) // the peer caches "not revoked"
		if err != nil {
			t.Fatalf("Verify on the peer: %v", err)
		}
		if err := a.Revoke(ctx(t), auth.RevokeParams{Access: id}); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, err := peer.Verify(ctx(t), p.AccessToken)
			if errors.Is(err, auth.ErrRevoked) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the peer still verifies a revoked token after 2s: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// A refresh on one instance spends the token for the other.
		p2 := refresh(t, peer, p.RefreshToken)
		_, err = a.Refresh(ctx(t), p.RefreshToken)
		wantInvalid(t, err, true)
		if _, err := a.Verify(ctx(t), p2.AccessToken); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("the peer's access token after reuse: %v, want auth.ErrRevoked", err)
		}
	})
}
