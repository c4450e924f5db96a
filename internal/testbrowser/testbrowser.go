// Package testbrowser starts Debian's Chromium for the browser tests:
// headless, without the sandbox (the tests run as root in CI), with a
// profile of the test's own and none of Chromium's background traffic.
// Without Chromium a test skips, or fails under APEX_REQUIRE_SERVICES=1
// (.ci/run installs it).
package testbrowser

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/apexgo/apex/internal/testservice"
)

const install = "install Debian's chromium (apt-get install -y chromium)"

// Path returns the Chromium binary, skipping or failing t without one.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testservice.Required() {
		t.Fatal("chromium not found: " + install)
	}
	t.Skip("chromium not found: " + install + " to run the browser test")
	return ""
}

// Allocator returns a chromedp allocator context of one Chromium for t,
// ended when t ends: chromedp.NewContext(alloc) opens its first tab
// (and starts the browser), further NewContext calls on that one open
// more tabs, or browser contexts with chromedp.WithNewBrowserContext.
// Extra options (a window size...) follow the defaults.
func Allocator(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	bin := Path(t)
	all := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}, opts...)
	alloc, cancel := chromedp.NewExecAllocator(t.Context(), all...)
	t.Cleanup(cancel)
	return alloc
}
