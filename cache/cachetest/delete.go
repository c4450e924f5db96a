package cachetest

import (
	"testing"
)

// TestDelete checks that Delete removes one key and no other, and deleting an absent key is not an error.
func TestDelete(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	set(t, c, "k", []byte("v"), 0)
	set(t, c, "other", []byte("o"), 0)
	wantValue(t, c, "k", []byte("v"))
	if err := c.Delete(t.Context(), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMiss(t, c, "k")
	wantValue(t, c, "other", []byte("o"))
	if err := c.Delete(t.Context(), "k"); err != nil {
		t.Fatalf("Delete of a deleted key: %v", err)
	}
	if err := c.Delete(t.Context(), "never-set"); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
	set(t, c, "k", []byte("again"), 0)
	wantValue(t, c, "k", []byte("again"))
}
