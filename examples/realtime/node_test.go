package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apexgo/apex/app/apptest"
)

// A Node client built on the npm "centrifuge" package (with "ws")
// publishes into a room, receives its message back and receives its
// job's completion on its user channel. npm fetches the two packages into
// a temporary directory; without node and npm the test skips (fails with
// APEX_REQUIRE_SERVICES=1).
func TestNodeClient(t *testing.T) {
	t.Parallel()
	node, errN := exec.LookPath("node")
	npm, errP := exec.LookPath("npm")
	if errN != nil || errP != nil {
		if os.Getenv("APEX_REQUIRE_SERVICES") == "1" {
			t.Fatal("node and npm are needed for the Node client test")
		}
		t.Skip("node and npm not found: the Node client test needs them")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", dir, "centrifuge@5.8.0", "ws@8.18.3")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install: %v\n%s", err, out)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "client.js"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "client.js"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	a := apptest.New(t, options())
	run := exec.CommandContext(ctx, node, filepath.Join(dir, "client.js"), a.URL)
	run.Dir = dir
	out, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("node client: %v\n%s", err, out)
	}
}
