package auth

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/maypok86/otter/v2"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/apexgo/apex/app"
)

// Params are the dependencies of [New].
type Params struct {
	// Config is the auth section; Issuer and Audience are required.
	Config Config
	// Revocations and Refresh are the stores. Nil: Verify checks no
	// revocation list and Issue returns no refresh token.
	Revocations Revocations
	Refresh     RefreshStore
	// Log receives the reuse-detection ERROR (which reaches the alerter)
	// and a DEBUG line per refused refresh token. Default: no logging.
	Log *zap.Logger
	// RandomSecret lets New make up a per-process HS256 secret when
	// auth.secret is unset (the module allows it in development and
	// test). Tokens then die with the process and no other instance
	// accepts them.
	RandomSecret bool
	// Reload, when set, is called by Refresh with the session (the
	// principal the family was issued for, and when) and returns the
	// principal to issue now (fresh roles, say). It runs before the
	// presented refresh token is spent: an error wrapping
	// ErrInvalidRefresh (a deleted or disabled user, a password changed
	// since the session started) revokes the family; any other error
	// fails this refresh only, and the token stays valid for a retry.
	Reload func(ctx context.Context, s Session) (Principal, error)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Session is a refresh-token family as Params.Reload sees it.
type Session struct {
	// Principal is what the family was issued for.
	Principal
	// Started is when it was issued: the login, to the nanosecond. To end
	// sessions older than an event, prefer a counter kept with the user
	// (see examples/auth) to comparing Started with a stored time: a
	// database may round that time (MySQL's TIMESTAMP to the second).
	Started time.Time
}

// JWT is [Tokens] with JWT access tokens (golang-jwt/jwt/v5) and opaque
// refresh tokens.
type JWT struct {
	cfg     Config
	signing key
	keys    map[string]key
	// only is the verification key when there is exactly one: it checks
	// tokens without a kid. noKid logs, at most once a minute, why such
	// tokens are refused when there are several.
	only  *key
	noKid rate.Sometimes
	// methods are the algorithms of the keys (jwt.WithValidMethods);
	// validator checks the claims as golang-jwt's parser would (see
	// parse).
	methods   []string
	validator *jwt.Validator
	rev       Revocations
	refresh   RefreshStore
	log       *zap.Logger
	reload    func(context.Context, Session) (Principal, error)
	now       func() time.Time
	// verified maps a token already verified to its identity, so that
	// repeated requests with one token skip parsing and the signature
	// check (the revocation check still runs every time). Nil when
	// auth.verify_cache_size is 0.
	verified *otter.Cache[string, *Identity]
	// custom is whether the last token parsed had custom claims (or a
	// known claim's name in another case): the next parse then decodes
	// its claims with the map decode straight away, not after the decode
	// of known claims only has declined them. Either way the claims are
	// the same; this only saves the declined decode where tokens carry
	// custom claims.
	custom atomic.Bool
}

var _ Tokens = (*JWT)(nil)

// New returns a JWT from p, loading its keys: a missing or short secret,
// an unreadable key file or a key of the wrong type is an error naming
// the setting.
func New(p Params) (*JWT, error) {
	c := p.Config
	if c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("auth.issuer and auth.audience: are required")
	}
	c.MaxTokenBytes = cmp.Or(max(c.MaxTokenBytes, 0), DefaultMaxTokenBytes)
	if c.AccessTTL <= 0 || c.RefreshTTL <= 0 {
		return nil, errors.New("auth.access_ttl and auth.refresh_ttl: must be positive")
	}
	signing, random, err := signingKey(c, p.RandomSecret)
	if err != nil {
		return nil, err
	}
	j := &JWT{
		cfg: c, signing: signing, keys: map[string]key{signing.id: signing},
		rev: p.Revocations, refresh: p.Refresh, log: p.Log, reload: p.Reload, now: p.Now,
	}
	if j.log == nil {
		j.log = zap.NewNop()
	}
	if j.now == nil {
		j.now = time.Now
	}
	if c.VerifyCacheSize > 0 {
		if j.verified, err = otter.New(&otter.Options[string, *Identity]{MaximumSize: c.VerifyCacheSize}); err != nil {
			return nil, fmt.Errorf("auth.verify_cache_size: %w", err)
		}
	}
	methods := []string{signing.method.Alg()}
	for kid, v := range c.VerifyKeys {
		if _, dup := j.keys[kid]; dup {
			return nil, fmt.Errorf("auth.verify_keys.%s: the signing key already has this kid", kid)
		}
		k, err := verifyKey(kid, v)
		if err != nil {
			return nil, err
		}
		j.keys[kid] = k
		methods = append(methods, k.method.Alg())
	}
	if len(j.keys) == 1 {
		j.only = &signing
	}
	j.noKid = rate.Sometimes{Interval: time.Minute}
	j.methods = methods
	j.validator = jwt.NewValidator(
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(c.Audience),
		jwt.WithLeeway(c.Leeway),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return j.now() }),
	)
	if random {
		j.log.Warn("auth.secret is not set: signing with a random per-process secret; tokens end with the process and other instances reject them. Set " + app.EnvName("auth.secret") + " (32+ random bytes) outside development")
	}
	return j, nil
}

// KeyID is the kid of the signing key.
func (j *JWT) KeyID() string { return j.signing.id }

// Issue implements [Tokens].
func (j *JWT) Issue(ctx context.Context, p Principal) (Pair, error) {
	now := j.now()
	jti := rand.Text()
	access, exp, err := j.sign(p, jti, now)
	if err != nil {
		return Pair{}, err
	}
	pair := Pair{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(j.cfg.AccessTTL / time.Second), AccessExpiresAt: exp}
	if j.refresh == nil {
		return pair, nil
	}
	data, err := json.Marshal(storedPrincipal{Roles: p.Roles, Tenant: p.Tenant, Claims: p.Claims})
	if err != nil {
		return Pair{}, fmt.Errorf("auth: Issue: encoding the claims: %w", err)
	}
	family := newFamily()
	token, hash := newRefresh(family)
	rec := RefreshRecord{
		Family: family, Hash: hash, Subject: p.Subject, ExpiresAt: now.Add(j.cfg.RefreshTTL), Data: data,
		AccessID: jti, AccessExpiresAt: exp, Started: now,
	}
	if err := j.refresh.Create(ctx, rec); err != nil {
		return Pair{}, fmt.Errorf("%w: storing the refresh token: %w", ErrUnavailable, err)
	}
	pair.RefreshToken, pair.RefreshExpiresAt = token, rec.ExpiresAt
	return pair, nil
}

type storedPrincipal struct {
	Roles  []string       `json:"r,omitempty"`
	Tenant string         `json:"t,omitempty"`
	Claims map[string]any `json:"c,omitempty"`
}

// sign makes the access token of p. It refuses a principal without a
// subject and custom claims named like a known claim in any case ("Sub",
// "EXP"): some JSON decoders match names case-insensitively, so that such
// a claim could stand in for the real one. Issue and Refresh (whatever
// Reload returns) both go through here.
func (j *JWT) sign(p Principal, jti string, now time.Time) (string, time.Time, error) {
	if p.Subject == "" {
		return "", time.Time{}, errors.New("auth: the principal has no subject")
	}
	for k := range p.Claims {
		if reservedClaim(k) {
			return "", time.Time{}, fmt.Errorf("auth: claim %q is reserved", k)
		}
	}
	exp := now.Add(j.cfg.AccessTTL)
	c := &claims{
		Issuer: j.cfg.Issuer, Subject: p.Subject, Audience: audience{j.cfg.Audience},
		ExpiresAt: seconds(exp), NotBefore: seconds(now), IssuedAt: millis(now), ID: jti,
		Roles: p.Roles, Tenant: p.Tenant, extra: p.Claims,
	}
	t := jwt.NewWithClaims(j.signing.method, c)
	t.Header["kid"] = j.signing.id
	s, err := t.SignedString(j.signing.sign)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: signing: %w", err)
	}
	return s, exp, nil
}

func (j *JWT) keyFunc(t *jwt.Token) (any, error) {
	v, hasKid := t.Header["kid"]
	kid, isString := v.(string)
	k, ok := j.keys[kid]
	switch {
	case hasKid && !isString:
		// null, a number, an array: neither a key's name nor absent.
		return nil, errUnknownKey
	case !hasKid && j.only != nil:
		// What issuers with a single key usually make: with one key
		// configured there is nothing to choose.
		k, ok = *j.only, true
	case !hasKid:
		j.noKid.Do(func() {
			j.log.Warn("auth: refusing access tokens without a kid: several verification keys are configured (auth.key_id and auth.verify_keys) and a token must name its key; have the issuer set the kid header")
		})
		return nil, errNoKid
	case !ok:
		return nil, errUnknownKey
	}
	if t.Method.Alg() != k.method.Alg() {
		return nil, errWrongAlg
	}
	return k.verify, nil
}

var (
	errUnknownKey = errors.New("unknown kid")
	errNoKid      = errors.New("no kid, and several verification keys are configured")
	errWrongAlg   = errors.New("algorithm does not match the key")
	errTooLarge   = errors.New("token too large")
	errNoID       = errors.New("token without jti or sub")
)

// parse checks token and decodes its claims into c: what golang-jwt's
// Parser.ParseWithClaims does with jwt.WithValidMethods(j.methods) and
// jwt.WithStrictDecoding, on golang-jwt's signing methods and claims
// validator, in the same order but for one thing: the claims are decoded
// once, after the signature is checked. (ParseWithClaims decodes them
// first, with json.Unmarshal, which validates and skips the claim set
// before handing it to claims.UnmarshalJSON, which decodes it again: a
// third of Verify's time.) It is stricter than ParseWithClaims where
// that is lax: a line break in a segment (see segment) and a crit header
// are refused. Errors wrap golang-jwt's sentinels as ParseWithClaims's do.
func (j *JWT) parse(token string, c *claims) error {
	header, rest, ok1 := strings.Cut(token, ".")
	payload, signature, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(signature, ".") {
		return fmt.Errorf("%w: token contains an invalid number of segments", jwt.ErrTokenMalformed)
	}
	hb, err := segment(header)
	if err != nil {
		return fmt.Errorf("%w: could not base64 decode header: %w", jwt.ErrTokenMalformed, err)
	}
	t := jwt.Token{Raw: token}
	if err := json.Unmarshal(hb, &t.Header); err != nil {
		return fmt.Errorf("%w: could not JSON decode header: %w", jwt.ErrTokenMalformed, err)
	}
	if _, crit := t.Header["crit"]; crit {
		// A recipient must understand every extension crit lists, or
		// refuse the token (RFC 7515 §4.1.11): apex understands none.
		return fmt.Errorf("%w: crit: header extensions are not supported", jwt.ErrTokenUnverifiable)
	}
	alg, ok := t.Header["alg"].(string)
	if !ok {
		return fmt.Errorf("%w: signing method (alg) is unspecified", jwt.ErrTokenUnverifiable)
	}
	if t.Method = jwt.GetSigningMethod(alg); t.Method == nil {
		return fmt.Errorf("%w: signing method (alg) is unavailable", jwt.ErrTokenUnverifiable)
	}
	if t.Signature, err = segment(signature); err != nil {
		return fmt.Errorf("%w: could not base64 decode signature: %w", jwt.ErrTokenMalformed, err)
	}
	if !slices.Contains(j.methods, t.Method.Alg()) {
		return fmt.Errorf("%w: signing method %v is invalid", jwt.ErrTokenSignatureInvalid, t.Method.Alg())
	}
	k, err := j.keyFunc(&t)
	if err != nil {
		return fmt.Errorf("%w: error while executing keyfunc: %w", jwt.ErrTokenUnverifiable, err)
	}
	if err := t.Method.Verify(token[:len(header)+1+len(payload)], t.Signature, k); err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err)
	}
	cb, err := segment(payload)
	if err != nil {
		return fmt.Errorf("%w: could not base64 decode claim: %w", jwt.ErrTokenMalformed, err)
	}
	if err := c.UnmarshalJSON(cb); err != nil {
		return fmt.Errorf("%w: could not JSON decode claim: %w", jwt.ErrTokenMalformed, err)
	}
	if err := j.validator.Validate(c); err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
	}
	return nil
}

// segment decodes a base64url segment of a token: strictly (no padding,
// no non-zero trailing bits), and with no line break. encoding/base64
// skips CR and LF even in strict mode, so that "ab\ncd" would be a second
// spelling of "abcd": of a valid token, another key of the verified-token
// cache and of anything a service keys by the token.
func segment(s string) ([]byte, error) {
	b, err := strictBase64.DecodeString(s)
	if err == nil && len(s) != strictBase64.EncodedLen(len(b)) {
		err = errors.New("line break in base64")
	}
	return b, err
}

var strictBase64 = base64.RawURLEncoding.Strict()

// Verify implements [Tokens].
func (j *JWT) Verify(ctx context.Context, token string) (Identity, error) {
	if len(token) > j.cfg.MaxTokenBytes {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, errTooLarge)
	}
	if j.verified != nil {
		if id, ok := j.verified.GetIfPresent(token); ok {
			if !j.now().Before(j.acceptedUntil(id.ExpiresAt)) {
				j.verified.Invalidate(token)
				return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, jwt.ErrTokenExpired)
			}
			return j.checkRevoked(ctx, id)
		}
	}
	custom := j.custom.Load()
	c := claims{mapFirst: custom}
	if err := j.parse(token, &c); err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if (c.extra != nil) != custom {
		j.custom.Store(!custom)
	}
	if c.ID == "" || c.Subject == "" {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, errNoID)
	}
	id := Identity{
		Principal: Principal{Subject: c.Subject, Roles: c.Roles, Tenant: c.Tenant, Claims: c.extra},
		TokenID:   c.ID, ExpiresAt: toTime(c.ExpiresAt), IssuedAt: exactTime(c.IssuedAt),
	}
	if j.verified != nil {
		// A copy on the heap for the cache; id stays on the stack when
		// the cache is off.
		cached := id
		j.verified.Set(token, &cached)
	}
	return j.checkRevoked(ctx, &id)
}

// acceptedUntil is when a token expiring at exp stops verifying: exp
// plus the leeway. Revocations are kept until then, not until exp, or a
// revoked token would verify again for the leeway.
func (j *JWT) acceptedUntil(exp time.Time) time.Time { return exp.Add(j.cfg.Leeway) }

func (j *JWT) checkRevoked(ctx context.Context, id *Identity) (Identity, error) {
	if j.rev != nil {
		revoked, err := j.rev.Revoked(ctx, RevokedParams{
			ID: id.TokenID, Subject: id.Subject, IssuedAt: id.IssuedAt, Until: j.acceptedUntil(id.ExpiresAt),
		})
		if err != nil {
			return Identity{}, fmt.Errorf("%w: checking revocation: %w", ErrUnavailable, err)
		}
		if revoked {
			return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrRevoked)
		}
	}
	return *id, nil
}

// Refresh implements [Tokens]. Every bad refresh token gets an error
// with the same text (see [invalidRefresh]); the reason is in the log.
func (j *JWT) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	pair, err := j.rotate(ctx, refreshToken)
	if err != nil && errors.Is(err, ErrInvalidRefresh) {
		j.log.Debug("auth: refresh token refused", zap.Error(err))
		return Pair{}, invalidRefresh{err}
	}
	return pair, err
}

// invalidRefresh is the error of Refresh for any bad refresh token: its
// text is ErrInvalidRefresh's whatever the cause, so that the 401 a
// client sees (the module maps the error's text to the problem's detail)
// never says "reused" to a thief; errors.Is still finds the cause.
type invalidRefresh struct{ cause error }

func (e invalidRefresh) Error() string { return ErrInvalidRefresh.Error() }
func (e invalidRefresh) Unwrap() error { return e.cause }

// rotate looks the token up, issues the next pair from the family's
// principal (reloaded), and has the store swap the tokens, handing it
// the new pair sealed for a replay within the grace window.
func (j *JWT) rotate(ctx context.Context, refreshToken string) (Pair, error) {
	if j.refresh == nil {
		return Pair{}, fmt.Errorf("%w: no refresh store", ErrInvalidRefresh)
	}
	family, hash, secret, ok := parseRefresh(refreshToken)
	if !ok {
		return Pair{}, fmt.Errorf("%w: malformed", ErrInvalidRefresh)
	}
	old, err := j.refresh.Lookup(ctx, family, hash)
	if err != nil {
		return Pair{}, storeError(err, "looking up the refresh token")
	}
	if ended, err := j.sessionEnded(ctx, old); err != nil || ended {
		if err == nil {
			err = fmt.Errorf("%w: every session of the subject was ended after this one started", ErrInvalidRefresh)
		}
		if rerr := j.refresh.RevokeFamily(ctx, family, nil); rerr != nil {
			err = errors.Join(err, fmt.Errorf("%w: revoking the refresh family: %w", ErrUnavailable, rerr))
		}
		return Pair{}, err
	}
	var sp storedPrincipal
	if err := json.Unmarshal(old.Data, &sp); err != nil {
		return Pair{}, fmt.Errorf("auth: decoding a refresh family: %w", err)
	}
	p := Principal{Subject: old.Subject, Roles: sp.Roles, Tenant: sp.Tenant, Claims: sp.Claims}
	if j.reload != nil {
		if p, err = j.reload(ctx, Session{Principal: p, Started: old.Started}); err != nil {
			if errors.Is(err, ErrInvalidRefresh) {
				if rerr := j.refresh.RevokeFamily(ctx, family, nil); rerr != nil {
					return Pair{}, errors.Join(err, rerr)
				}
			}
			return Pair{}, err
		}
	}
	now := j.now()
	jti := rand.Text()
	access, exp, err := j.sign(p, jti, now)
	if err != nil {
		return Pair{}, err
	}
	token, next := newRefresh(family)
	pair := Pair{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(j.cfg.AccessTTL / time.Second), AccessExpiresAt: exp,
		RefreshToken: token, RefreshExpiresAt: now.Add(j.cfg.RefreshTTL),
	}
	rp := RotateParams{
		Family: family, Hash: hash, Grace: j.cfg.RefreshGrace,
		Next: RefreshRecord{Family: family, Hash: next, ExpiresAt: pair.RefreshExpiresAt, AccessID: jti, AccessExpiresAt: exp},
	}
	if rp.Grace > 0 {
		if rp.Sealed, err = seal(secret, pair); err != nil {
			return Pair{}, err
		}
	}
	got, err := j.refresh.Rotate(ctx, rp)
	if err != nil {
		if errors.Is(err, ErrRefreshReused) {
			j.log.Error("auth: refresh token reused; its family is revoked",
				zap.String("subject", got.Subject), zap.String("family", fingerprint(family)))
			if got.AccessID != "" && j.rev != nil {
				if rerr := j.rev.Revoke(ctx, got.AccessID, j.acceptedUntil(got.AccessExpiresAt)); rerr != nil {
					j.log.Error("auth: revoking the access token of a reused refresh family", zap.Error(rerr), zap.String("family", fingerprint(family)))
				}
			}
		}
		return Pair{}, storeError(err, "rotating the refresh token")
	}
	if got.Sealed != nil {
		// Spent moments ago by this client (another tab, a retry): the
		// pair that rotation issued.
		replayed, err := open(secret, got.Sealed)
		if err != nil {
			return Pair{}, fmt.Errorf("%w: the pair kept for the grace window does not open: %w", ErrInvalidRefresh, err)
		}
		j.log.Debug("auth: refresh token presented again within auth.refresh_grace; the same pair returned",
			zap.String("family", fingerprint(family)))
		return replayed, nil
	}
	return pair, nil
}

// storeError returns err of a refresh store as is when it is a verdict on
// the token (ErrInvalidRefresh), and as ErrUnavailable otherwise.
func storeError(err error, doing string) error {
	if errors.Is(err, ErrInvalidRefresh) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, doing, err)
}

// sessionEnded reports whether the family of r was started before the
// last RevokeParams.EverySessionOf of its subject.
func (j *JWT) sessionEnded(ctx context.Context, r RefreshRecord) (bool, error) {
	if j.rev == nil {
		return false, nil
	}
	ended, err := j.rev.Revoked(ctx, RevokedParams{Subject: r.Subject, IssuedAt: r.Started, Until: r.ExpiresAt})
	if err != nil {
		return false, fmt.Errorf("%w: checking the subject's sessions: %w", ErrUnavailable, err)
	}
	return ended, nil
}

// Revoke implements [Tokens].
func (j *JWT) Revoke(ctx context.Context, p RevokeParams) error {
	var errs []error
	if p.EverySessionOf != "" && j.rev != nil {
		// Remembered until every token issued before now has expired: an
		// access token after AccessTTL, a family (whose tokens each live
		// RefreshTTL, and which is refused at its first refresh from now
		// on) after RefreshTTL.
		// To the millisecond, as "iat" is: a token issued in the same
		// millisecond as the call (before or after it) lives.
		now := j.now().Truncate(time.Millisecond)
		live := j.cfg.AccessTTL
		if j.refresh != nil {
			live = max(live, j.cfg.RefreshTTL)
		}
		if err := j.rev.RevokeSubject(ctx, p.EverySessionOf, now, j.acceptedUntil(now.Add(live))); err != nil {
			errs = append(errs, fmt.Errorf("%w: ending the subject's sessions: %w", ErrUnavailable, err))
		}
	}
	if p.Access.TokenID != "" && j.rev != nil {
		exp := p.Access.ExpiresAt
		if exp.IsZero() {
			// Not an identity from Verify: as long as a token of ours
			// can live.
			exp = j.now().Add(j.cfg.AccessTTL)
		}
		// Past exp + leeway the token is refused anyway: the store
		// remembers nothing.
		if err := j.rev.Revoke(ctx, p.Access.TokenID, j.acceptedUntil(exp)); err != nil {
			errs = append(errs, fmt.Errorf("%w: revoking the access token: %w", ErrUnavailable, err))
		}
	}
	if p.RefreshToken != "" && j.refresh != nil {
		family, hash, _, ok := parseRefresh(p.RefreshToken)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: malformed", ErrInvalidRefresh))
		} else if err := j.refresh.RevokeFamily(ctx, family, hash); err != nil {
			errs = append(errs, fmt.Errorf("%w: revoking the refresh family: %w", ErrUnavailable, err))
		}
	}
	return errors.Join(errs...)
}

// A refresh token is base64url(16-byte family ‖ 32-byte secret): 64
// characters, opaque to clients. Stores keep the family and the SHA-256
// of the secret, never the token.
const (
	familyLen  = 16
	secretLen  = 32
	refreshLen = 64 // base64url of familyLen+secretLen bytes
)

// fingerprint names a family in logs without revealing its ID, which is
// part of every refresh token of the family.
func fingerprint(family string) string {
	sum := sha256.Sum256([]byte("apex-auth-family:" + family))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

func newFamily() string {
	var b [familyLen]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newRefresh(family string) (token string, hash []byte) {
	var b [familyLen + secretLen]byte
	_, _ = base64.RawURLEncoding.Decode(b[:familyLen], []byte(family))
	_, _ = rand.Read(b[familyLen:])
	sum := sha256.Sum256(b[familyLen:])
	return base64.RawURLEncoding.EncodeToString(b[:]), sum[:]
}

// parseRefresh splits a refresh token into its family, the SHA-256 of its
// secret part (what the stores keep) and the secret part itself (which
// only seals and opens the grace-window pair).
func parseRefresh(token string) (family string, hash, secret []byte, ok bool) {
	if len(token) != refreshLen {
		return "", nil, nil, false
	}
	var b [familyLen + secretLen]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(token))
	if err != nil || n != len(b) {
		return "", nil, nil, false
	}
	sum := sha256.Sum256(b[familyLen:])
	return base64.RawURLEncoding.EncodeToString(b[:familyLen]), sum[:], b[familyLen:], true
}

// sealedPair is a Pair as sealed for the grace window.
type sealedPair struct {
	Pair
	AccessExpiresAt  time.Time `json:"ae"`
	RefreshExpiresAt time.Time `json:"re"`
}

// graceKey derives the key that seals the pair issued for a refresh
// token's secret: a hash of the secret under another label than the
// stored one, so that the store, which keeps SHA-256(secret), cannot
// derive it, and only the presenter of the token can open the pair.
func graceKey(secret []byte) cipher.AEAD {
	k := sha256.Sum256(append([]byte("apex-auth-refresh-grace:"), secret...))
	block, _ := aes.NewCipher(k[:]) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)
	return aead
}

func seal(secret []byte, p Pair) ([]byte, error) {
	plain, err := json.Marshal(sealedPair{Pair: p, AccessExpiresAt: p.AccessExpiresAt, RefreshExpiresAt: p.RefreshExpiresAt})
	if err != nil {
		return nil, fmt.Errorf("auth: sealing the pair: %w", err)
	}
	aead := graceKey(secret)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, nil), nil
}

func open(secret, sealed []byte) (Pair, error) {
	aead := graceKey(secret)
	if len(sealed) < aead.NonceSize() {
		return Pair{}, errors.New("too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return Pair{}, err
	}
	var sp sealedPair
	if err := json.Unmarshal(plain, &sp); err != nil {
		return Pair{}, err
	}
	p := sp.Pair
	p.AccessExpiresAt, p.RefreshExpiresAt = sp.AccessExpiresAt, sp.RefreshExpiresAt
	return p, nil
}
