package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Codec turns Go values into cache values and back, for [Typed].
// Implementations must be safe for concurrent use.
type Codec interface {
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, a pointer.
	Unmarshal(data []byte, v any) error
}

// JSON is the default [Codec]: encoding/json.
type JSON struct{}

// Marshal implements Codec with json.Marshal.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec with json.Unmarshal.
func (JSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Typed stores Go values of type T in a [Cache] through a [Codec]. It is
// safe for concurrent use when its Cache and Codec are; errors are the
// Cache's, plus encode and decode errors naming the key.
type Typed[T any] struct {
	c     Cache
	codec Codec
}

// NewTyped returns a typed view of c; a nil codec means [JSON].
func NewTyped[T any](c Cache, codec Codec) *Typed[T] {
	if codec == nil {
		codec = JSON{}
	}
	return &Typed[T]{c: c, codec: codec}
}

// Get returns the value under key, or an error wrapping [ErrMiss].
func (t *Typed[T]) Get(ctx context.Context, key string) (T, error) {
	var v T
	b, err := t.c.Get(ctx, key)
	if err != nil {
		return v, err
	}
	if err := t.codec.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("cache: decode %q: %w", key, err)
	}
	return v, nil
}

// Set stores v under key for ttl.
func (t *Typed[T]) Set(ctx context.Context, key string, v T, ttl time.Duration) error {
	b, err := t.codec.Marshal(v)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", key, err)
	}
	return t.c.Set(ctx, key, b, ttl)
}

// Delete removes key.
func (t *Typed[T]) Delete(ctx context.Context, key string) error { return t.c.Delete(ctx, key) }

// GetOrLoad is [Cache.GetOrLoad] for T: load runs once per key under
// concurrency, and its result is cached for ttl.
func (t *Typed[T]) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) (T, error)) (T, error) {
	var v T
	b, err := t.c.GetOrLoad(ctx, key, ttl, func(ctx context.Context) ([]byte, error) {
		loaded, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return t.codec.Marshal(loaded)
	})
	if err != nil {
		return v, err
	}
	if err := t.codec.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("cache: decode %q: %w", key, err)
	}
	return v, nil
}
