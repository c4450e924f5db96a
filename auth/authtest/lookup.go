package authtest

import (
	"bytes"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
)

// Lookup checks RefreshStore.Lookup: it finds a live or spent token of a
// live family with the family's subject, data and start, refuses unknown
// tokens and revoked families, and changes nothing.
func Lookup(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Refresh/Lookup", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, newBackend).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		for range 2 { // twice: looking up spends nothing
			got, err := s.Lookup(ctx(t), fam, first.Hash)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if got.Family != fam || got.Subject != first.Subject || !bytes.Equal(got.Data, first.Data) || !got.Started.Equal(first.Started) {
				t.Fatalf("Lookup returned %+v; want the family's subject, data and start", got)
			}
			if d := got.ExpiresAt.Sub(first.ExpiresAt); d > time.Second || d < -time.Second {
				t.Fatalf("Lookup returned expiry %v, want about %v", got.ExpiresAt, first.ExpiresAt)
			}
		}
		next := record(fam, hash(), time.Hour)
		if _, err := s.Rotate(ctx(t), auth.RotateParams{Family: fam, Hash: first.Hash, Next: next}); err != nil {
			t.Fatalf("Rotate after Lookup: %v", err)
		}
		if _, err := s.Lookup(ctx(t), fam, first.Hash); err != nil {
			t.Fatalf("Lookup of a spent token: %v", err)
		}
		_, err := s.Lookup(ctx(t), fam, hash())
		wantInvalid(t, err, false)
		_, err = s.Lookup(ctx(t), newID(), first.Hash)
		wantInvalid(t, err, false)
		if err := s.RevokeFamily(ctx(t), fam, nil); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		_, err = s.Lookup(ctx(t), fam, next.Hash)
		wantInvalid(t, err, false)
	})
}
