package cachetest

import (
	"testing"
	"time"
)

// TestBinaryKeysAndValues checks that keys and values are arbitrary bytes: NUL, invalid UTF-8, protocol-looking and glob characters.
func TestBinaryKeysAndValues(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	keys := []string{
		"a", "a\x00", "a\x00b", "\x00", "\xff\xfe\xfd", "ключ", "with space", "line\nbreak",
		"glob*?[x]", "{tag}", string(all[1:]), string(all),
	}
	values := [][]byte{
		all, {0}, {0, 0, 0}, []byte("\xff\xfe invalid UTF-8 \xc3\x28"), []byte("a\x00b"),
		[]byte("\r\n$3\r\nfoo\r\n"), []byte("日本語"),
	}
	for i, k := range keys {
		set(t, c, k, values[i%len(values)], time.Minute)
	}
	for i, k := range keys {
		wantValue(t, c, k, values[i%len(values)])
	}
	wantMiss(t, c, "a\x00c")
	wantMiss(t, c, "\x00\x00")
}
