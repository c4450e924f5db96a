package authtest

import (
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
)

// Reuse checks reuse detection: a spent refresh token presented again
// revokes its family, in the store and through Tokens, which also revokes
// the last access token of the family.
func Reuse(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Refresh/ReuseRevokesFamily", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		next := record(fam, hash(), time.Hour)
		if _, err := s.Rotate(ctx(t), fam, first.Hash, next); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		latest, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, true)
		if latest.AccessID != next.AccessID || latest.Subject != "user-1" {
			t.Fatalf("reuse returned %+v; want the family's latest access ID %q and its subject", latest, next.AccessID)
		}
		if d := latest.AccessExpiresAt.Sub(next.AccessExpiresAt); d > time.Second || d < -time.Second {
			t.Fatalf("reuse returned access expiry %v, want %v", latest.AccessExpiresAt, next.AccessExpiresAt)
		}
		// The family is dead: its newest token too.
		_, err = s.Rotate(ctx(t), fam, next.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
	})

	t.Run("Tokens/ReuseRevokesFamilyAndAccess", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend))
		p1 := issue(t, j, alice)
		p2 := refresh(t, j, p1.RefreshToken)
		_, err := j.Refresh(ctx(t), p1.RefreshToken)
		wantInvalid(t, err, true)
		_, err = j.Refresh(ctx(t), p2.RefreshToken)
		wantInvalid(t, err, false)
		if _, err := j.Verify(ctx(t), p2.AccessToken); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("Verify of the access token of a reused family: %v, want auth.ErrRevoked", err)
		}
	})
}
