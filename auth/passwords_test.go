package auth_test

import (
	"context"
	"errors"
	"math"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/apexgo/apex/auth"
)

// fast are cheap argon2id parameters for functional tests.
var fast = auth.PasswordConfig{Memory: 1024, Iterations: 1, Parallelism: 1}

func newPasswords(t testing.TB, cfg auth.PasswordConfig) *auth.Passwords {
	t.Helper()
	p, err := auth.NewPasswords(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPasswordsHashVerify(t *testing.T) {
	t.Parallel()
	p := newPasswords(t, auth.PasswordConfig{})
	h, err := p.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("hash %q is not PHC argon2id with the OWASP defaults", h)
	}
	if err := p.Verify(t.Context(), h, "correct horse battery staple"); err != nil {
		t.Fatalf("Verify of the right password: %v", err)
	}
	if err := p.Verify(t.Context(), h, "Correct horse battery staple"); !errors.Is(err, auth.ErrPasswordMismatch) {
		t.Fatalf("Verify of a wrong password: %v", err)
	}
	h2, _ := p.Hash(t.Context(), "correct horse battery staple")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no random salt")
	}
	if p.NeedsRehash(h) {
		t.Fatal("NeedsRehash of a current hash")
	}
	// Parameters change: old hashes still verify and need a rehash.
	stronger := newPasswords(t, auth.PasswordConfig{Memory: 19456, Iterations: 3})
	if err := stronger.Verify(t.Context(), h, "correct horse battery staple"); err != nil {
		t.Fatalf("Verify of an old-parameter hash: %v", err)
	}
	if !stronger.NeedsRehash(h) {
		t.Fatal("NeedsRehash after a parameter change is false")
	}
}

func TestPasswordsBcryptMigration(t *testing.T) {
	t.Parallel()
	p := newPasswords(t, fast)
	b, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(t.Context(), string(b), "hunter2"); err != nil {
		t.Fatalf("Verify of a bcrypt hash: %v", err)
	}
	if err := p.Verify(t.Context(), string(b), "hunter3"); !errors.Is(err, auth.ErrPasswordMismatch) {
		t.Fatalf("Verify of a wrong password against bcrypt: %v", err)
	}
	if !p.NeedsRehash(string(b)) {
		t.Fatal("a bcrypt hash does not need a rehash")
	}
}

func TestPasswordsBadHashes(t *testing.T) {
	t.Parallel()
	p := newPasswords(t, fast)
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // 1 TB: refused, not allocated
		"$argon2id$v=19$m=1024,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if err := p.Verify(t.Context(), h, "x"); !errors.Is(err, auth.ErrUnknownHash) {
			t.Errorf("Verify against %q: %v, want ErrUnknownHash", h, err)
		}
	}
	if _, err := p.Hash(t.Context(), strings.Repeat("x", 2000)); !errors.Is(err, auth.ErrPasswordTooLong) {
		t.Errorf("Hash of 2000 bytes: %v", err)
	}
	h, _ := p.Hash(t.Context(), "x")
	if err := p.Verify(t.Context(), h, strings.Repeat("x", 2000)); !errors.Is(err, auth.ErrPasswordMismatch) {
		t.Errorf("Verify of 2000 bytes: %v", err)
	}
}

// At most MaxConcurrent hashes run; the others wait with their context.
func TestPasswordsConcurrencyLimit(t *testing.T) {
	t.Parallel()
	// One slot, held by a slow hash.
	p := newPasswords(t, auth.PasswordConfig{Memory: 64 * 1024, Iterations: 8, MaxConcurrent: 1})
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		close(started)
		_, err := p.Hash(context.Background(), "slow")
		done <- err
	}()
	<-started
	// The slow hash may not hold the slot yet (a loaded machine): then
	// this one takes it and succeeds, and the next try finds it busy.
	var ctx context.Context
	for try := 1; ; try++ {
		c, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		ctx = c
		start := time.Now()
		_, err := p.Hash(ctx, "waiting")
		if waited := time.Since(start); errors.Is(err, context.DeadlineExceeded) && waited > time.Second {
			t.Fatalf("Hash waited %v past its deadline", waited)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil || try == 20 {
			t.Fatalf("Hash while the only slot is busy: %v (try %d), want context.DeadlineExceeded", err, try)
		}
	}
	if err := p.VerifyNoUser(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyNoUser with an ended context: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// "Unknown user" (VerifyNoUser) and "wrong password" (Verify) take the
// same time: medians within 10%, with the default parameters.
// TestPasswordsUnknownUserCostsAWrongPassword checks that an unknown user
// costs the same argon2id work as a wrong password, by the memory the
// hash allocates (m KiB per call) rather than by a clock: a shared
// machine makes timings noisy, while the bytes a hash allocates are
// fixed by its parameters.
func TestPasswordsUnknownUserCostsAWrongPassword(t *testing.T) {
	p := newPasswords(t, auth.PasswordConfig{MaxConcurrent: 1})
	hash, err := p.Hash(t.Context(), "the right password")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", auth.DefaultPasswordMaxLength+1)
	perCall := func(f func() error) uint64 {
		const n = 5
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			if err := f(); !errors.Is(err, auth.ErrPasswordMismatch) {
				t.Fatalf("got %v, want ErrPasswordMismatch", err)
			}
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / n
	}
	wrong := perCall(func() error { return p.Verify(t.Context(), hash, "a wrong password") })
	for name, f := range map[string]func() error{
		"unknown user":           func() error { return p.VerifyNoUser(t.Context(), "a wrong password") },
		"over-long password":     func() error { return p.Verify(t.Context(), hash, long) },
		"unknown user, too long": func() error { return p.VerifyNoUser(t.Context(), long) },
	} {
		got := perCall(f)
		t.Logf("%s: %d bytes per call, wrong password %d", name, got, wrong)
		if diff := math.Abs(float64(got)-float64(wrong)) / float64(wrong); diff > 0.05 {
			t.Errorf("%s allocates %d bytes per call, a wrong password %d (%.1f%% apart): not the same hash work", name, got, wrong, 100*diff)
		}
	}
}
