package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Passwords hashes and verifies passwords with argon2id, in the PHC string
// format ($argon2id$v=19$m=19456,t=2,p=1$salt$hash), and verifies bcrypt
// hashes too, for users migrated from other systems.
//
// Hashing takes m KiB of memory for a while, so at most MaxConcurrent
// hashes (or verifications) run at once; the others wait, and give up
// with their context's error when it ends: a flood of logins queues
// instead of exhausting memory.
type Passwords struct {
	cfg   PasswordConfig
	sem   chan struct{}
	dummy string
}

// NewPasswords returns a Passwords with cfg's parameters (zero fields
// take the defaults of [DefaultPasswordConfig]).
func NewPasswords(cfg PasswordConfig) (*Passwords, error) {
	d := DefaultPasswordConfig()
	cfg.Memory, cfg.Iterations = cmp.Or(cfg.Memory, d.Memory), cmp.Or(cfg.Iterations, d.Iterations)
	cfg.Parallelism, cfg.SaltLength = cmp.Or(cfg.Parallelism, d.Parallelism), cmp.Or(cfg.SaltLength, d.SaltLength)
	cfg.KeyLength, cfg.MaxLength = cmp.Or(cfg.KeyLength, d.KeyLength), cmp.Or(cfg.MaxLength, d.MaxLength)
	if cfg.SaltLength < 8 || cfg.KeyLength < 16 {
		return nil, errors.New("auth.password: salt_length must be ≥ 8 and key_length ≥ 16")
	}
	p := &Passwords{cfg: cfg, sem: make(chan struct{}, cfg.concurrency())}
	// The dummy hash has the current parameters and a random salt and key
	// nobody knows: verifying against it costs what a real check costs
	// and always fails. Building it takes no hashing.
	salt, key := make([]byte, cfg.SaltLength), make([]byte, cfg.KeyLength)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	p.dummy = p.encode(salt, key)
	return p, nil
}

var b64 = base64.RawStdEncoding

func (p *Passwords) encode(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.cfg.Memory, p.cfg.Iterations, p.cfg.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// acquire waits for a hashing slot or for ctx to end.
func (p *Passwords) acquire(ctx context.Context) error {
	select {
	case p.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Passwords) release() { <-p.sem }

// Hash returns the PHC-formatted argon2id hash of password with a fresh
// random salt.
func (p *Passwords) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > p.cfg.MaxLength {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, p.cfg.SaltLength)
	_, _ = rand.Read(salt)
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	key := argon2.IDKey([]byte(password), salt, p.cfg.Iterations, p.cfg.Memory, p.cfg.Parallelism, p.cfg.KeyLength)
	return p.encode(salt, key), nil
}

// Verify checks password against a stored argon2id or bcrypt hash, in
// constant time: nil when it matches, [ErrPasswordMismatch] when not,
// [ErrUnknownHash] for a hash in neither format, or ctx's error while
// waiting for a slot.
func (p *Passwords) Verify(ctx context.Context, hash, password string) error {
	if len(password) > p.cfg.MaxLength {
		// Still spend a hash's time: length must not be an oracle.
		return p.VerifyNoUser(ctx, "")
	}
	return p.verify(ctx, hash, password)
}

// VerifyNoUser spends the time of a Verify against a dummy hash with the
// current parameters and returns [ErrPasswordMismatch]: call it when the
// user does not exist, so that "unknown user" and "wrong password" take
// the same time.
func (p *Passwords) VerifyNoUser(ctx context.Context, password string) error {
	if len(password) > p.cfg.MaxLength {
		password = ""
	}
	if err := p.verify(ctx, p.dummy, password); err != nil && !errors.Is(err, ErrPasswordMismatch) {
		return err
	}
	return ErrPasswordMismatch
}

func (p *Passwords) verify(ctx context.Context, hash, password string) error {
	if isBcrypt(hash) {
		if err := p.acquire(ctx); err != nil {
			return err
		}
		defer p.release()
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
			if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) || errors.Is(err, bcrypt.ErrPasswordTooLong) {
				return ErrPasswordMismatch
			}
			return fmt.Errorf("%w: bcrypt: %w", ErrUnknownHash, err)
		}
		return nil
	}
	ph, err := parsePHC(hash)
	if err != nil {
		return err
	}
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer p.release()
	key := argon2.IDKey([]byte(password), ph.salt, ph.t, ph.m, ph.p, uint32(len(ph.key)))
	if subtle.ConstantTimeCompare(key, ph.key) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// NeedsRehash reports whether hash should be replaced by a new Hash of the
// password after a successful Verify: it is bcrypt, unparsable, or
// argon2id with other parameters than the configured ones.
func (p *Passwords) NeedsRehash(hash string) bool {
	ph, err := parsePHC(hash)
	if err != nil {
		return true
	}
	return ph.m != p.cfg.Memory || ph.t != p.cfg.Iterations || ph.p != p.cfg.Parallelism ||
		uint32(len(ph.salt)) != p.cfg.SaltLength || uint32(len(ph.key)) != p.cfg.KeyLength
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

type phc struct {
	m, t      uint32
	p         uint8
	salt, key []byte
}

// Bounds on parameters read from a stored hash, so that a corrupt or
// hostile hash cannot make Verify allocate gigabytes.
const (
	maxMemoryKiB = 1 << 21 // 2 GiB
	maxTime      = 100
)

func parsePHC(h string) (phc, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, ErrUnknownHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return phc{}, fmt.Errorf("%w: argon2 version %q", ErrUnknownHash, parts[2])
	}
	var r phc
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &r.m, &r.t, &r.p); err != nil {
		return phc{}, fmt.Errorf("%w: argon2 parameters %q", ErrUnknownHash, parts[3])
	}
	if r.m < 8 || r.m > maxMemoryKiB || r.t < 1 || r.t > maxTime || r.p < 1 {
		return phc{}, fmt.Errorf("%w: argon2 parameters out of range", ErrUnknownHash)
	}
	var err error
	if r.salt, err = b64.DecodeString(parts[4]); err != nil || len(r.salt) < 8 {
		return phc{}, fmt.Errorf("%w: bad salt", ErrUnknownHash)
	}
	if r.key, err = b64.DecodeString(parts[5]); err != nil || len(r.key) < 16 || len(r.key) > 256 {
		return phc{}, fmt.Errorf("%w: bad key", ErrUnknownHash)
	}
	return r, nil
}
