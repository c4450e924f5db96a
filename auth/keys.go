package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apexgo/apex/app"
)

// key is one signing or verification key.
type key struct {
	id     string
	method jwt.SigningMethod
	sign   any // nil for a verification-only key
	verify any
}

func methodFor(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case "HS256":
		return jwt.SigningMethodHS256, nil
	case "RS256":
		return jwt.SigningMethodRS256, nil
	case "ES256":
		return jwt.SigningMethodES256, nil
	case "EdDSA":
		return jwt.SigningMethodEdDSA, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", alg)
}

// signingKey loads the configured signing key. ephemeral allows a random
// HS256 secret when none is configured (development and test).
func signingKey(c Config, ephemeral bool) (key, bool, error) {
	m, err := methodFor(c.Algorithm)
	if err != nil {
		return key{}, false, fmt.Errorf("auth.algorithm: %w", err)
	}
	k := key{id: c.KeyID, method: m}
	random := false
	if c.Algorithm == "HS256" {
		secret := []byte(c.Secret.Reveal())
		if len(secret) == 0 {
			if !ephemeral {
				return key{}, false, fmt.Errorf("auth.secret: is required for HS256 in production (at least %d random bytes; %s), or leave auth out with apex.Without(apex.Auth)", minSecret, app.EnvName("auth.secret"))
			}
			secret = make([]byte, minSecret)
			_, _ = rand.Read(secret)
			random = true
		}
		if len(secret) < minSecret {
			return key{}, false, fmt.Errorf("auth.secret: must be at least %d bytes for HS256", minSecret)
		}
		k.sign, k.verify = secret, secret
	} else {
		pemBytes := []byte(c.PrivateKey.Reveal())
		setting := "auth.private_key"
		if c.PrivateKeyFile != "" {
			setting = "auth.private_key_file"
			if pemBytes, err = os.ReadFile(c.PrivateKeyFile); err != nil {
				return key{}, false, fmt.Errorf("%s: %w", setting, err)
			}
		}
		priv, err := parsePrivate(c.Algorithm, pemBytes)
		if err != nil {
			return key{}, false, fmt.Errorf("%s: %w", setting, err)
		}
		k.sign, k.verify = priv, priv.(crypto.Signer).Public()
	}
	if k.id == "" {
		k.id = keyID(k.verify)
	}
	return k, random, nil
}

func verifyKey(kid string, v VerifyKey) (key, error) {
	setting := "auth.verify_keys." + kid
	m, err := methodFor(v.Algorithm)
	if err != nil {
		return key{}, fmt.Errorf("%s.algorithm: %w", setting, err)
	}
	k := key{id: kid, method: m}
	if v.Algorithm == "HS256" {
		s := []byte(v.Secret.Reveal())
		if len(s) < minSecret {
			return key{}, fmt.Errorf("%s.secret: must be at least %d bytes for HS256", setting, minSecret)
		}
		k.verify = s
		return k, nil
	}
	pemBytes := []byte(v.PublicKey)
	if v.PublicKeyFile != "" {
		if pemBytes, err = os.ReadFile(v.PublicKeyFile); err != nil {
			return key{}, fmt.Errorf("%s.public_key_file: %w", setting, err)
		}
	}
	if k.verify, err = parsePublic(v.Algorithm, pemBytes); err != nil {
		return key{}, fmt.Errorf("%s.public_key: %w", setting, err)
	}
	return k, nil
}

func parsePrivate(alg string, b []byte) (any, error) {
	return parseKey(alg, b, func(block *pem.Block) (any, error) {
		switch block.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		}
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	})
}

func parsePublic(alg string, b []byte) (any, error) {
	return parseKey(alg, b, func(block *pem.Block) (any, error) {
		switch block.Type {
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return cert.PublicKey, nil
		}
		return x509.ParsePKIXPublicKey(block.Bytes)
	})
}

// parseKey decodes the first PEM block of b with parse and checks that the
// key fits alg. Errors never contain the key.
func parseKey(alg string, b []byte, parse func(*pem.Block) (any, error)) (any, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	k, err := parse(block)
	if err != nil {
		return nil, fmt.Errorf("parsing the %s: %w", block.Type, err)
	}
	if err := checkKeyType(alg, k); err != nil {
		return nil, err
	}
	return k, nil
}

// checkKeyType refuses a key that does not fit the algorithm, so that a
// configuration mistake is a start error and not a verification failure.
func checkKeyType(alg string, k any) error {
	ok := false
	switch alg {
	case "RS256":
		switch k := k.(type) {
		case *rsa.PrivateKey:
			ok = k.N.BitLen() >= 2048
		case *rsa.PublicKey:
			ok = k.N.BitLen() >= 2048
		}
		if !ok {
			return errors.New("RS256 needs an RSA key of at least 2048 bits")
		}
	case "ES256":
		switch k := k.(type) {
		case *ecdsa.PrivateKey:
			ok = k.Curve == elliptic.P256()
		case *ecdsa.PublicKey:
			ok = k.Curve == elliptic.P256()
		}
		if !ok {
			return errors.New("ES256 needs an ECDSA P-256 key")
		}
	case "EdDSA":
		switch k.(type) {
		case ed25519.PrivateKey, ed25519.PublicKey:
			ok = true
		}
		if !ok {
			return errors.New("EdDSA needs an Ed25519 key")
		}
	}
	return nil
}

// keyID derives a kid from a verification key: 8 bytes of the SHA-256 of
// its DER (or, for a secret, of the secret under a fixed label), in
// lower-case hex, so that it survives the env loader, which lower-cases
// keys (APP_AUTH__VERIFY_KEYS__<kid>__...), and has no "_" to split on.
func keyID(verify any) string {
	var b []byte
	switch k := verify.(type) {
	case []byte:
		b = append([]byte("apex-auth-hs256-kid:"), k...)
	default:
		b, _ = x509.MarshalPKIXPublicKey(k)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
