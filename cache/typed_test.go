package cache_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/cache/memory"
)

type profile struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

func typedBackend(t *testing.T) cache.Cache {
	t.Helper()
	c, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestTypedJSONRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	raw := typedBackend(t)
	c := cache.NewTyped[profile](raw, nil)
	want := profile{ID: 7, Name: "Zoë \"quoted\"", Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"}}
	if err := c.Set(ctx, "p", want, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Name != want.Name || strings.Join(got.Tags, ",") != "a,b" || got.Attrs["k"] != "v" {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	b, err := raw.Get(ctx, "p")
	if err != nil || !strings.HasPrefix(string(b), `{"id":7,`) {
		t.Fatalf("stored %q, %v; want JSON by default", b, err)
	}

	if _, err := c.Get(ctx, "absent"); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get of an absent key: %v, want ErrMiss", err)
	}
	if err := c.Delete(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "p"); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get after Delete: %v, want ErrMiss", err)
	}
}

func TestTypedGetOrLoad(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := cache.NewTyped[profile](typedBackend(t), nil)
	loads := 0
	load := func(context.Context) (profile, error) {
		loads++
		return profile{ID: loads, Name: "loaded"}, nil
	}
	for range 3 {
		got, err := c.GetOrLoad(ctx, "p", time.Minute, load)
		if err != nil || got.ID != 1 || got.Name != "loaded" {
			t.Fatalf("GetOrLoad: %+v, %v", got, err)
		}
	}
	if loads != 1 {
		t.Fatalf("loader ran %d times, want 1", loads)
	}
	boom := errors.New("boom")
	if _, err := c.GetOrLoad(ctx, "q", time.Minute, func(context.Context) (profile, error) { return profile{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("GetOrLoad with a failing loader: %v", err)
	}
	if _, err := c.Get(ctx, "q"); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("a failed load was cached: %v", err)
	}
}

// digits stores ints as decimal text.
type digits struct{}

func (digits) Marshal(v any) ([]byte, error) {
	n, ok := v.(int)
	if !ok {
		return nil, errors.New("digits: not an int")
	}
	return []byte(strconv.Itoa(n)), nil
}

func (digits) Unmarshal(data []byte, v any) error {
	n, err := strconv.Atoi(string(data))
	if err != nil {
		return err
	}
	*v.(*int) = n
	return nil
}

func TestTypedCustomCodec(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	raw := typedBackend(t)
	c := cache.NewTyped[int](raw, digits{})
	if err := c.Set(ctx, "n", 42, time.Minute); err != nil {
		t.Fatal(err)
	}
	if b, err := raw.Get(ctx, "n"); err != nil || string(b) != "42" {
		t.Fatalf("stored %q, %v; want the codec's encoding", b, err)
	}
	if n, err := c.Get(ctx, "n"); err != nil || n != 42 {
		t.Fatalf("Get: %d, %v", n, err)
	}
	n, err := c.GetOrLoad(ctx, "m", time.Minute, func(context.Context) (int, error) { return 7, nil })
	if err != nil || n != 7 {
		t.Fatalf("GetOrLoad: %d, %v", n, err)
	}
	if b, _ := raw.Get(ctx, "m"); string(b) != "7" {
		t.Fatalf("GetOrLoad stored %q, want the codec's encoding", b)
	}
}

func TestTypedDecodeAndEncodeErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	raw := typedBackend(t)
	if err := raw.Set(ctx, "bad", []byte("{not json"), time.Minute); err != nil {
		t.Fatal(err)
	}
	c := cache.NewTyped[profile](raw, nil)
	_, err := c.Get(ctx, "bad")
	if err == nil || errors.Is(err, cache.ErrMiss) || !strings.Contains(err.Error(), "decode") {
		t.Fatalf("Get of undecodable bytes: %v, want a decode error that is not a miss", err)
	}
	_, err = c.GetOrLoad(ctx, "bad", time.Minute, func(context.Context) (profile, error) {
		t.Error("loader called for a present (if undecodable) key")
		return profile{}, nil
	})
	if err == nil || errors.Is(err, cache.ErrMiss) || !strings.Contains(err.Error(), "decode") {
		t.Fatalf("GetOrLoad of undecodable bytes: %v, want a decode error", err)
	}

	funcs := cache.NewTyped[func()](raw, nil)
	if err := funcs.Set(ctx, "f", func() {}, time.Minute); err == nil || !strings.Contains(err.Error(), "encode") {
		t.Fatalf("Set of an unencodable value: %v, want an encode error", err)
	}
	if _, err := raw.Get(ctx, "f"); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("an unencodable value was stored: %v", err)
	}
	ints := cache.NewTyped[int](raw, digits{})
	if err := raw.Set(ctx, "x", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := ints.Get(ctx, "x"); err == nil || !strings.Contains(err.Error(), "decode") {
		t.Fatalf("custom codec decode error: %v", err)
	}
}
