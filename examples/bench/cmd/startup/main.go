// Command startup measures a service binary's start-to-ready time: it
// starts the process with APP_HTTP__ADDR on a free loopback port, polls
// GET /readyz every -poll until it answers 200, records the time since
// the process was started, stops it with SIGTERM, and repeats -n times.
// It prints each run and then min, median, p90 and max.
//
//	go build -o /tmp/minimal ./examples/minimal
//	go run ./examples/bench/cmd/startup -bin /tmp/minimal -n 20
//
// The child runs in an empty temporary directory (so no ./config or ./.env
// is read), with the caller's environment minus APP_* variables, and its
// output discarded. An untimed warm-up run comes first (-warmup).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the service binary to start (required)")
	n := flag.Int("n", 20, "timed runs (1 to 1000)")
	warmup := flag.Int("warmup", 1, "untimed runs first (0 to 10)")
	poll := flag.Duration("poll", time.Millisecond, "how often /readyz is polled")
	timeout := flag.Duration("timeout", 10*time.Second, "give up on a run after this long")
	target := flag.Duration("target", 150*time.Millisecond, "the start-to-ready time to stay under")
	flag.Parse()
	if *bin == "" || *n < 1 || *n > 1000 || *warmup < 0 || *warmup > 10 || *poll <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "startup")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	for i := range *warmup {
		r, err := once(*bin, dir, *poll, *timeout)
		if err != nil {
			log.Fatalf("warm-up %d: %v", i+1, err)
		}
		fmt.Printf("warm-up %d: ready %s, exited %s after SIGTERM%s\n", i+1, ms(r.ready), ms(r.stop), note(r))
	}
	var ready, stop []time.Duration
	killed := 0
	for i := range *n {
		r, err := once(*bin, dir, *poll, *timeout)
		if err != nil {
			log.Fatalf("run %d: %v", i+1, err)
		}
		fmt.Printf("run %2d: ready %s, exited %s after SIGTERM%s\n", i+1, ms(r.ready), ms(r.stop), note(r))
		ready = append(ready, r.ready)
		stop = append(stop, r.stop)
		if r.killed {
			killed++
		}
	}
	fmt.Printf("\n%d runs, /readyz polled every %v\n\n", *n, *poll)
	fmt.Println("| | min | median | p90 | max |")
	fmt.Println("|---|---:|---:|---:|---:|")
	row("start to ready", ready)
	row("SIGTERM to exit", stop)
	if killed > 0 {
		fmt.Printf("\n%d of %d runs were killed by SIGTERM's default action after /readyz had answered 200: the\napp had not yet installed its signal handler, so it did not stop gracefully.\n", killed, *n)
	}
	fmt.Printf("\ntarget: start to ready under %v: median %s %s, every run (max %s) %s\n",
		*target, ms(median(ready)), verdict(median(ready) < *target), ms(slices.Max(ready)), verdict(slices.Max(ready) < *target))
}

type result struct {
	ready, stop time.Duration
	// killed: SIGTERM ended the process without a graceful stop.
	killed bool
}

func once(bin, dir string, poll, timeout time.Duration) (result, error) {
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	url := "http://" + addr + "/readyz"
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(environ(), "APP_HTTP__ADDR="+addr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	var r result
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				r.ready = time.Since(start)
				break
			}
		}
		select {
		case <-tick.C:
		case err := <-exited:
			return result{}, fmt.Errorf("%s exited before it was ready: %v", bin, err)
		case <-ctx.Done():
			kill()
			return result{}, fmt.Errorf("%s not ready within %v", bin, timeout)
		}
	}

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		kill()
		return result{}, err
	}
	select {
	case err := <-exited:
		r.stop = time.Since(sent)
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM:
			// SIGTERM's default action: the app had not yet installed its
			// handler although /readyz already answered 200.
			r.killed = true
		default:
			return result{}, fmt.Errorf("%s exited with %v after SIGTERM", bin, err)
		}
	case <-time.After(timeout):
		kill()
		return result{}, fmt.Errorf("%s did not exit within %v of SIGTERM", bin, timeout)
	}
	client.CloseIdleConnections()
	return r, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// environ is the process environment minus APP_* variables, so that only
// the address set here configures the child.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "APP_") {
			env = append(env, kv)
		}
	}
	return env
}

func row(name string, ds []time.Duration) {
	fmt.Printf("| %s | %s | %s | %s | %s |\n", name, ms(slices.Min(ds)), ms(median(ds)), ms(percentile(ds, 0.9)), ms(slices.Max(ds)))
}

// median is the middle value, or the mean of the two middle ones.
func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile is the nearest-rank percentile: the smallest value with at
// least p of the values at or below it.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func note(r result) string {
	if r.killed {
		return " (killed: no SIGTERM handler yet)"
	}
	return ""
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
