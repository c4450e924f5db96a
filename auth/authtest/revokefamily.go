package authtest

import (
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
)

// RevokeFamily checks RefreshStore.RevokeFamily: it needs a token of the
// family (live or spent) or no hash at all, never just the family ID, and
// is idempotent.
func RevokeFamily(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Refresh/RevokeFamily", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam, other := newID(), newID()
		first, o := record(fam, hash(), time.Hour), record(other, hash(), time.Hour)
		create(t, s, first)
		create(t, s, o)
		// The family ID with a made-up secret revokes nothing.
		if err := s.RevokeFamily(ctx(t), fam, hash()); err != nil {
			t.Fatalf("RevokeFamily with a wrong hash: %v", err)
		}
		next := record(fam, hash(), time.Hour)
		if _, err := s.Rotate(ctx(t), fam, first.Hash, next); err != nil {
			t.Fatalf("Rotate after RevokeFamily with a wrong hash: %v", err)
		}
		// A token of the family (here the live one) revokes it.
		if err := s.RevokeFamily(ctx(t), fam, next.Hash); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		if err := s.RevokeFamily(ctx(t), fam, next.Hash); err != nil {
			t.Fatalf("second RevokeFamily: %v", err)
		}
		if err := s.RevokeFamily(ctx(t), newID(), nil); err != nil {
			t.Fatalf("RevokeFamily of an unknown family: %v", err)
		}
		_, err := s.Rotate(ctx(t), fam, next.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
		if _, err := s.Rotate(ctx(t), other, o.Hash, record(other, hash(), time.Hour)); err != nil {
			t.Fatalf("Rotate of another family: %v", err)
		}
		// A spent token revokes too, and nil needs no token.
		o2 := record(other, hash(), time.Hour)
		if _, err := s.Rotate(ctx(t), other, o2.Hash, record(other, hash(), time.Hour)); !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("Rotate with an unknown hash: %v", err)
		}
		if err := s.RevokeFamily(ctx(t), other, o.Hash); err != nil {
			t.Fatalf("RevokeFamily with a spent token: %v", err)
		}
		_, err = s.Rotate(ctx(t), other, o.Hash, record(other, hash(), time.Hour))
		wantInvalid(t, err, false)
		third := newID()
		tr := record(third, hash(), time.Hour)
		create(t, s, tr)
		if err := s.RevokeFamily(ctx(t), third, nil); err != nil {
			t.Fatalf("RevokeFamily without a hash: %v", err)
		}
		_, err = s.Rotate(ctx(t), third, tr.Hash, record(third, hash(), time.Hour))
		wantInvalid(t, err, false)
	})
}
