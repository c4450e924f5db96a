package authtest

import (
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
)

// wantSubject checks Revoked for a token of subject issued at iat.
func wantSubject(t *testing.T, r auth.Revocations, subject string, iat time.Time, want bool) {
	t.Helper()
	got, err := r.Revoked(ctx(t), auth.RevokedParams{ID: newID(), Subject: subject, IssuedAt: iat, Until: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatalf("Revoked(subject %q): %v", subject, err)
	}
	if got != want {
		t.Fatalf("Revoked(a token of %q issued at %v) = %v, want %v", subject, iat.Format(time.StampMilli), got, want)
	}
}

// Subjects checks a subject's "not before" (RevokeSubject, and
// RevokeParams.EverySessionOf through Tokens): tokens and sessions issued
// before it are revoked at once, later ones and other subjects are not,
// the later time wins, and the entry expires.
func Subjects(t *testing.T, f Features, newBackend NewBackend) {
	t.Run("Subjects/RevokeSubject", func(t *testing.T) {
		t.Parallel()
		r := fresh(t, newBackend).Revocations
		sub, other := newID(), newID()
		now := time.Now()
		before, after := now.Add(-time.Second), now.Add(time.Second)
		// Ask first, so that a backend caching "not revoked" has cached it.
		wantSubject(t, r, sub, before, false)
		wantSubject(t, r, other, before, false)
		if err := r.RevokeSubject(ctx(t), sub, now, now.Add(time.Minute)); err != nil {
			t.Fatalf("RevokeSubject: %v", err)
		}
		wantSubject(t, r, sub, before, true)
		wantSubject(t, r, sub, now.Add(-time.Millisecond), true)
		wantSubject(t, r, sub, after, false)
		wantSubject(t, r, other, before, false)
		// The ID alone, without the subject, is not revoked.
		wantRevoked(t, r, newID(), now.Add(time.Minute), false)
		// An earlier time does not lower it; a later one raises it.
		if err := r.RevokeSubject(ctx(t), sub, now.Add(-time.Hour), now.Add(time.Minute)); err != nil {
			t.Fatalf("RevokeSubject: %v", err)
		}
		wantSubject(t, r, sub, before, true)
		if err := r.RevokeSubject(ctx(t), sub, now.Add(2*time.Second), now.Add(time.Minute)); err != nil {
			t.Fatalf("RevokeSubject: %v", err)
		}
		wantSubject(t, r, sub, after, true)
		// A revoked ID stays revoked whatever its subject's time.
		id := newID()
		if err := r.Revoke(ctx(t), id, now.Add(time.Minute)); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		got, err := r.Revoked(ctx(t), auth.RevokedParams{ID: id, Subject: other, IssuedAt: after, Until: now.Add(time.Minute)})
		if err != nil || !got {
			t.Fatalf("Revoked(a revoked ID of a subject not revoked) = %v, %v; want true", got, err)
		}
	})

	t.Run("Subjects/Expire", func(t *testing.T) {
		t.Parallel()
		r := fresh(t, newBackend).Revocations
		sub, now := newID(), time.Now()
		if err := r.RevokeSubject(ctx(t), sub, now, now.Add(-time.Second)); err != nil {
			t.Fatalf("RevokeSubject in the past: %v", err)
		}
		wantSubject(t, r, sub, now.Add(-time.Minute), false)
		until := time.Now().Add(200 * time.Millisecond)
		if err := r.RevokeSubject(ctx(t), sub, now, until); err != nil {
			t.Fatalf("RevokeSubject: %v", err)
		}
		wantSubject(t, r, sub, now.Add(-time.Minute), true)
		time.Sleep(time.Until(until))
		deadline := time.Now().Add(3 * time.Second)
		for {
			got, err := r.Revoked(ctx(t), auth.RevokedParams{Subject: sub, IssuedAt: now.Add(-time.Minute), Until: time.Now().Add(time.Minute)})
			if err != nil {
				t.Fatalf("Revoked: %v", err)
			}
			if !got {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a subject's revocation outlived its until by 3s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	t.Run("Subjects/EverySessionOf", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, fresh(t, newBackend))
		bob := auth.Principal{Subject: "bob"}
		a1, a2, b1 := issue(t, j, alice), issue(t, j, alice), issue(t, j, bob)
		for _, p := range []auth.Pair{a1, a2, b1} { // cached "not revoked"
			if _, err := j.Verify(ctx(t), p.AccessToken); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
		a2 = refresh(t, j, a2.RefreshToken) // a refreshed family is still the old session
		// Tokens are stamped to the millisecond: one issued in the same
		// millisecond as the call is not before it.
		time.Sleep(2 * time.Millisecond)
		if err := j.Revoke(ctx(t), auth.RevokeParams{EverySessionOf: alice.Subject}); err != nil {
			t.Fatalf("Revoke(EverySessionOf): %v", err)
		}
		for i, p := range []auth.Pair{a1, a2} {
			if _, err := j.Verify(ctx(t), p.AccessToken); !errors.Is(err, auth.ErrRevoked) {
				t.Fatalf("session %d of alice after EverySessionOf: Verify = %v, want ErrRevoked", i, err)
			}
			_, err := j.Refresh(ctx(t), p.RefreshToken)
			wantInvalid(t, err, false)
		}
		if _, err := j.Verify(ctx(t), b1.AccessToken); err != nil {
			t.Fatalf("bob's session after alice's ended: %v", err)
		}
		refresh(t, j, b1.RefreshToken)
		// A session started after the call lives.
		a3 := issue(t, j, alice)
		if _, err := j.Verify(ctx(t), a3.AccessToken); err != nil {
			t.Fatalf("a session of alice started after EverySessionOf: %v", err)
		}
		a3 = refresh(t, j, a3.RefreshToken)
		if _, err := j.Verify(ctx(t), a3.AccessToken); err != nil {
			t.Fatalf("its refreshed access token: %v", err)
		}
	})
}
