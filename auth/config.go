package auth

import (
	"fmt"
	"runtime"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth/memory"
)

// Config is the "auth" section.
type Config struct {
	// Driver picks the revocation and refresh-token stores: auto (Redis
	// when redis.addr/addrs is set, else memory), redis or memory.
	// Default [DefaultDriver] (auto).
	Driver string `koanf:"driver" validate:"oneof=auto redis memory"`
	// Prefix starts every Redis key, so services can share a Redis.
	// Default: the service name and ":auth:".
	Prefix string `koanf:"prefix"`
	// Issuer is the "iss" claim set and required. Default: the service
	// name (app.name).
	Issuer string `koanf:"issuer"`
	// Audience is the "aud" claim set and required. Default: the service
	// name (app.name).
	Audience string `koanf:"audience"`
	// Algorithm signs new tokens: HS256, RS256, ES256 or EdDSA. Default
	// [DefaultAlgorithm] (HS256).
	Algorithm string `koanf:"algorithm" validate:"oneof=HS256 RS256 ES256 EdDSA"`
	// KeyID is the "kid" of the signing key. Default: derived from the key
	// (8 bytes of a SHA-256, 16 lower-case hex digits). Keep it lower-case:
	// set through the environment as a verify_keys entry, a kid is
	// lower-cased.
	KeyID string `koanf:"key_id"`
	// Secret is the HS256 key, at least 32 bytes. Unset in development
	// and test, a random per-process secret is used (with a WARN);
	// unset in production, the app does not start. Default none.
	Secret app.Secret `koanf:"secret"`
	// PrivateKey is the PEM private key for RS256, ES256 or EdDSA (PKCS#1,
	// SEC 1 or PKCS#8); or PrivateKeyFile, a path to one. Required for
	// those algorithms; default none.
	PrivateKey     app.Secret `koanf:"private_key"`
	PrivateKeyFile string     `koanf:"private_key_file"`
	// VerifyKeys are further keys that verify (never sign) tokens, by
	// kid: the previous key during a rotation, or another service's.
	// Default none.
	VerifyKeys map[string]VerifyKey `koanf:"verify_keys" validate:"dive"`
	// AccessTTL is an access token's lifetime. Default
	// [DefaultAccessTTL] (15m).
	AccessTTL time.Duration `koanf:"access_ttl" validate:"gt=0"`
	// RefreshTTL is a refresh token's lifetime; each refresh starts a new
	// one. Default [DefaultRefreshTTL] (720h, 30 days).
	RefreshTTL time.Duration `koanf:"refresh_ttl" validate:"gt=0"`
	// Leeway is the clock skew tolerated on exp, nbf and iat, at most 5m.
	// Default [DefaultLeeway] (30s).
	Leeway time.Duration `koanf:"leeway" validate:"gte=0,lte=5m"`
	// RefreshGrace is how long after a refresh token was spent presenting
	// it again returns the same new pair, instead of counting as reuse
	// and revoking the family: two tabs of one browser refreshing at
	// once, a retry after a lost response. At most 1m; 0 turns it off.
	// Default [DefaultRefreshGrace] (5s).
	RefreshGrace time.Duration `koanf:"refresh_grace" validate:"gte=0,lte=1m"`
	// MaxTokenBytes rejects longer tokens before parsing, at least 256.
	// Default [DefaultMaxTokenBytes] (8192).
	MaxTokenBytes int `koanf:"max_token_bytes" validate:"gte=256"`
	// VerifyCacheSize is how many verified access tokens each instance
	// remembers, so that the next request with one skips parsing and the
	// signature check (never the expiry and revocation checks). 0
	// disables it. With the Redis store it also bounds each of the two
	// maps of revocation answers held in process memory (token IDs,
	// subjects; 0 there means the default). Default
	// [DefaultVerifyCacheSize] (10000).
	VerifyCacheSize int `koanf:"verify_cache_size" validate:"gte=0"`
	// HTTP configures the Guard (auth.http).
	HTTP HTTPConfig `koanf:"http"`
	// Permissions maps a role to the permissions it grants, for
	// Guard.RequirePermission and Guard.Can. Default none.
	Permissions map[string][]string `koanf:"permissions"`
	// Password configures password hashing (auth.password).
	Password PasswordConfig `koanf:"password"`
	// Memory bounds the in-process stores (auth.memory).
	Memory MemoryConfig `koanf:"memory"`
}

// VerifyKey is one entry of auth.verify_keys.
type VerifyKey struct {
	// Algorithm is HS256, RS256, ES256 or EdDSA. Required.
	Algorithm string `koanf:"algorithm" validate:"oneof=HS256 RS256 ES256 EdDSA"`
	// Secret is the HS256 key, at least 32 bytes. Required for HS256.
	Secret app.Secret `koanf:"secret"`
	// PublicKey is a PEM public key (PKIX, PKCS#1 or a certificate), or
	// PublicKeyFile a path to one. Exactly one is required for RS256,
	// ES256 and EdDSA.
	PublicKey     string `koanf:"public_key"`
	PublicKeyFile string `koanf:"public_key_file"`
}

// HTTPConfig is auth.http.
type HTTPConfig struct {
	// Cookie, when set, is a cookie read for the token when there is no
	// Authorization header, on every method: browsers send it with
	// cross-site requests, so set it SameSite and give state-changing
	// routes a CSRF defence (docs/auth.md). Default none.
	Cookie string `koanf:"cookie"`
	// QueryParam, when set, is a query parameter read for the token by
	// Guard.AuthenticateWebSocket, on WebSocket upgrade requests only
	// (browsers cannot set headers there); every other middleware ignores
	// it. Default none.
	QueryParam string `koanf:"query_param"`
	// Realm is the realm in WWW-Authenticate. Default: the service name.
	Realm string `koanf:"realm"`
}

// PasswordConfig is auth.password: argon2id parameters (OWASP defaults)
// and the hashing concurrency limit.
type PasswordConfig struct {
	// Memory is argon2id's m in KiB, at least 1024. Default
	// [DefaultPasswordMemory] (19456, 19 MiB).
	Memory uint32 `koanf:"memory" validate:"gte=1024"`
	// Iterations is argon2id's t. Default [DefaultPasswordIterations] (2).
	Iterations uint32 `koanf:"iterations" validate:"gte=1"`
	// Parallelism is argon2id's p. Default [DefaultPasswordParallelism] (1).
	Parallelism uint8 `koanf:"parallelism" validate:"gte=1"`
	// SaltLength in bytes, 8 to 64. Default [DefaultSaltLength] (16).
	SaltLength uint32 `koanf:"salt_length" validate:"gte=8,lte=64"`
	// KeyLength is the hash length in bytes, 16 to 64. Default
	// [DefaultKeyLength] (32).
	KeyLength uint32 `koanf:"key_length" validate:"gte=16,lte=64"`
	// MaxConcurrent hashes run at once, others wait (with their context).
	// Default 0: the number of CPUs.
	MaxConcurrent int `koanf:"max_concurrent" validate:"gte=0"`
	// MaxLength refuses longer passwords (bytes) before hashing
	// ([ErrPasswordTooLong]). Default [DefaultPasswordMaxLength] (1024).
	MaxLength int `koanf:"max_length" validate:"gte=8"`
}

// MemoryConfig is auth.memory.
type MemoryConfig struct {
	// MaxEntries bounds each in-process store (revoked IDs, refresh
	// tokens); past it, revoking and issuing fail with [ErrStoreFull].
	// Default [DefaultMemoryMaxEntries] (1000000).
	MaxEntries int `koanf:"max_entries" validate:"gte=1"`
}

// Defaults of [Config], used by [DefaultConfig] and, for zero fields, by
// [New], [NewPasswords] and the backends.
const (
	DefaultDriver          = "auto"
	DefaultAlgorithm       = "HS256"
	DefaultAccessTTL       = 15 * time.Minute
	DefaultRefreshTTL      = 30 * 24 * time.Hour
	DefaultLeeway          = 30 * time.Second
	DefaultRefreshGrace    = 5 * time.Second
	DefaultMaxTokenBytes   = 8192
	DefaultVerifyCacheSize = 10_000
	// DefaultMemoryMaxEntries is auth/memory's own default.
	DefaultMemoryMaxEntries = memory.DefaultMaxEntries
)

// Defaults of [PasswordConfig]: OWASP's argon2id parameters.
const (
	DefaultPasswordMemory      = 19 * 1024
	DefaultPasswordIterations  = 2
	DefaultPasswordParallelism = 1
	DefaultSaltLength          = 16
	DefaultKeyLength           = 32
	DefaultPasswordMaxLength   = 1024
)

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Driver:          DefaultDriver,
		Algorithm:       DefaultAlgorithm,
		AccessTTL:       DefaultAccessTTL,
		RefreshTTL:      DefaultRefreshTTL,
		Leeway:          DefaultLeeway,
		RefreshGrace:    DefaultRefreshGrace,
		MaxTokenBytes:   DefaultMaxTokenBytes,
		VerifyCacheSize: DefaultVerifyCacheSize,
		Password:        DefaultPasswordConfig(),
		Memory:          MemoryConfig{MaxEntries: DefaultMemoryMaxEntries},
	}
}

// DefaultPasswordConfig returns the OWASP argon2id parameters.
func DefaultPasswordConfig() PasswordConfig {
	return PasswordConfig{
		Memory: DefaultPasswordMemory, Iterations: DefaultPasswordIterations, Parallelism: DefaultPasswordParallelism,
		SaltLength: DefaultSaltLength, KeyLength: DefaultKeyLength, MaxLength: DefaultPasswordMaxLength,
	}
}

func (c PasswordConfig) concurrency() int {
	if c.MaxConcurrent > 0 {
		return c.MaxConcurrent
	}
	return runtime.NumCPU()
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	var ps []app.Problem
	switch c.Algorithm {
	case "HS256":
		if c.Secret.IsSet() && len(c.Secret.Reveal()) < minSecret {
			ps = append(ps, app.Problem{Key: "secret", Message: fmt.Sprintf("must be at least %d bytes for HS256", minSecret)})
		}
	default:
		if !c.PrivateKey.IsSet() && c.PrivateKeyFile == "" {
			ps = append(ps, app.Problem{Key: "private_key", Message: "is required for " + c.Algorithm + " (or set private_key_file)"})
		}
		if c.PrivateKey.IsSet() && c.PrivateKeyFile != "" {
			ps = append(ps, app.Problem{Key: "private_key_file", Message: "set either private_key or private_key_file, not both"})
		}
	}
	for kid, k := range c.VerifyKeys {
		key := "verify_keys." + kid
		switch {
		case k.Algorithm == "HS256" && len(k.Secret.Reveal()) < minSecret:
			ps = append(ps, app.Problem{Key: key + ".secret", Message: fmt.Sprintf("must be at least %d bytes for HS256", minSecret)})
		case k.Algorithm != "HS256" && (k.PublicKey == "") == (k.PublicKeyFile == ""):
			ps = append(ps, app.Problem{Key: key + ".public_key", Message: "set exactly one of public_key and public_key_file"})
		}
	}
	if c.RefreshTTL < c.AccessTTL {
		ps = append(ps, app.Problem{Key: "refresh_ttl", Message: "must not be shorter than access_ttl"})
	}
	return ps
}

// minSecret is the least HS256 secret length in bytes.
const minSecret = 32
