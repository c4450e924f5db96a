package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/internal/testbrowser"
)

// Two people in one room, each in their own browser context of one
// Chromium, see each other's messages and presence, and a job's progress
// and completion arrive over the socket.
func TestBrowser(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, options())

	// One Chromium, two browser contexts (each an incognito-like profile
	// with its own cookies and storage): two people who share nothing but
	// the server.
	browserCtx, cancelBrowser := chromedp.NewContext(testbrowser.Allocator(t, chromedp.WindowSize(1000, 900)))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	person := func(name string) context.Context {
		t.Helper()
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil { // creates the context and its tab
			t.Fatalf("%s's browser context: %v", name, err)
		}
		return ctx
	}
	alice, bob := person("alice"), person("bob")
	if ai, bi := chromedp.FromContext(alice), chromedp.FromContext(bob); ai.BrowserContextID == "" || ai.BrowserContextID == bi.BrowserContextID || ai.Browser != bi.Browser {
		t.Fatalf("want two browser contexts in one browser; got %q and %q", ai.BrowserContextID, bi.BrowserContextID)
	}

	join := func(c context.Context, name string) {
		t.Helper()
		c, cancel := context.WithTimeout(c, 15*time.Second)
		defer cancel()
		err := chromedp.Do(c,
			chromedp.Navigate(a.URL+"/"),
			chromedp.SetValue(chromedp.CSS("#name"), name),
			chromedp.Click(chromedp.CSS("#login")),
			chromedp.WaitEnabled(chromedp.CSS("#join")),
			chromedp.Click(chromedp.CSS("#join")),
			chromedp.WaitEnabled(chromedp.CSS("#send")),
		)
		if err != nil {
			t.Fatalf("%s joins: %v", name, err)
		}
	}
	join(alice, "alice")
	join(bob, "bob")

	waitText := func(c context.Context, sel, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		var got string
		for time.Now().Before(deadline) {
			rc, cancel := context.WithTimeout(c, 2*time.Second)
			v, err := chromedp.Run(rc, chromedp.Evaluate[string]("document.querySelector('"+sel+"').textContent"))
			cancel()
			if err == nil {
				got = v
			} else {
				t.Logf("read %s: %v", sel, err)
			}
			if strings.Contains(got, want) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s is %q; want it to contain %q", sel, got, want)
	}
	say := func(c context.Context, text string) {
		t.Helper()
		if err := chromedp.Do(c, chromedp.SetValue(chromedp.CSS("#text"), text), chromedp.Click(chromedp.CSS("#send"))); err != nil {
			t.Fatal(err)
		}
	}

	// Presence: each sees both.
	waitText(alice, "#presence", "bob")
	waitText(bob, "#presence", "alice")
	// Messages both ways.
	say(alice, "hello from alice")
	waitText(bob, "#messages", "alice: hello from alice")
	say(bob, "hi alice")
	waitText(alice, "#messages", "bob: hi alice")

	// The job's progress and completion arrive on alice's user channel.
	if err := chromedp.Do(alice, chromedp.Click(chromedp.CSS("#job"))); err != nil {
		t.Fatal(err)
	}
	waitText(alice, "#job-status", "succeeded")
	progress, err := chromedp.Run(alice, chromedp.Evaluate[float64]("document.querySelector('#progress').value"))
	if err != nil || progress != 100 {
		t.Fatalf("progress %v, %v; want 100", progress, err)
	}

	png, err := chromedp.Run(alice, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("APEX_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "realtime-browser.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
