package authtest

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apexgo/apex/auth"
)

// Tokens checks the JWT tokens on the stores: refresh rotates and keeps
// the principal, logout revokes both tokens, a forged refresh token
// revokes nothing, concurrent refreshes of one token succeed once.
func Tokens(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Tokens/RefreshRotates", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend))
		p1 := issue(t, j, alice)
		p2 := refresh(t, j, p1.RefreshToken)
		if p2.RefreshToken == p1.RefreshToken || p2.AccessToken == p1.AccessToken {
			t.Fatal("Refresh returned the same tokens")
		}
		id, err := j.Verify(ctx(t), p2.AccessToken)
		if err != nil {
			t.Fatalf("Verify of the refreshed access token: %v", err)
		}
		if id.Subject != "alice" || !id.HasRole("admin") || id.Tenant != "acme" || id.Claims["plan"] != "pro" {
			t.Fatalf("refreshed identity %+v lost the principal", id)
		}
		if _, err := j.Refresh(ctx(t), p2.RefreshToken); err != nil {
			t.Fatalf("second Refresh: %v", err)
		}
	})

	t.Run("Tokens/Logout", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend))
		p := issue(t, j, alice)
		id, err := j.Verify(ctx(t), p.AccessToken)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if err := j.Revoke(ctx(t), auth.RevokeParams{Access: id, RefreshToken: p.RefreshToken}); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if _, err := j.Verify(ctx(t), p.AccessToken); !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("Verify after Revoke: %v, want ErrInvalidToken and ErrRevoked", err)
		}
		_, err = j.Refresh(ctx(t), p.RefreshToken)
		wantInvalid(t, err, false)
		if err := j.Revoke(ctx(t), auth.RevokeParams{Access: id, RefreshToken: p.RefreshToken}); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
	})

	t.Run("Tokens/RevokeNeedsTheSecret", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend))
		p := issue(t, j, alice)
		// Same family, another secret: what someone who saw only the
		// family ID could make.
		raw, err := base64.RawURLEncoding.DecodeString(p.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = rand.Read(raw[16:])
		forged := base64.RawURLEncoding.EncodeToString(raw)
		if err := j.Revoke(ctx(t), auth.RevokeParams{RefreshToken: forged}); err != nil {
			t.Fatalf("Revoke with a forged token: %v", err)
		}
		refresh(t, j, p.RefreshToken)
	})

	t.Run("Tokens/ConcurrentRefresh", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend))
		p := issue(t, j, alice)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				_, err := j.Refresh(ctx(t), p.RefreshToken)
				if err == nil {
					ok.Add(1)
				} else if !errors.Is(err, auth.ErrInvalidRefresh) {
					t.Errorf("Refresh: %v", err)
				}
			})
		}
		wg.Wait()
		if n := ok.Load(); n != 1 {
			t.Fatalf("100 concurrent refreshes of one token: %d succeeded, want exactly 1", n)
		}
	})
}
