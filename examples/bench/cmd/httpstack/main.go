// Command httpstack serves examples/minimal's GET /items/:id handler on
// three ephemeral loopback ports: behind apex's full default middleware
// stack with its default no-op tracer ("apex"), the same with a recording
// tracer ("tracing": an SDK provider that samples every span and batches
// them to an exporter that drops them, bench.WithRecordingTracer), and on
// bare echo ("bare"). It prints the base URLs and serves until interrupted
// or until -for has passed. A load generator such as wrk is then pointed
// at each (see examples/bench/httpstack.sh):
//
//	go run ./cmd/httpstack -for 5m
//	apex http://127.0.0.1:41023
//	tracing http://127.0.0.1:40211
//	bare http://127.0.0.1:36119
//
// With -pprof ADDR (a loopback address) it also serves net/http/pprof
// there, to take a CPU profile of the process under load. It always serves
// the process's heap allocation counters (runtime/metrics
// /gc/heap/allocs:objects and :bytes, "OBJECTS BYTES\n") on one more
// loopback port, printed as "stats URL", so that the script can report
// allocations per request of the stack under load. -set KEY=VALUE
// (repeatable) overrides a config key of the apex app, to measure what
// one middleware costs: -set http.timeout.enabled=false (both apex stacks).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex/examples/bench"
)

func main() {
	only := flag.String("only", "all", "which stacks to serve: all, apex, tracing or bare")
	limit := flag.Duration("for", 10*time.Minute, "stop by itself after this long (at most 1h)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this loopback address, e.g. 127.0.0.1:0")
	set := map[string]any{}
	flag.Func("set", "override an apex config key, KEY=VALUE (repeatable)", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, not %q", kv)
		}
		set[k] = v
		return nil
	})
	flag.Parse()
	if err := run(*only, min(*limit, time.Hour), *pprofAddr, set); err != nil {
		log.Fatal(err)
	}
}

func run(only string, limit time.Duration, pprofAddr string, set map[string]any) error {
	if only != "all" && only != "apex" && only != "tracing" && only != "bare" {
		return fmt.Errorf("-only must be all, apex, tracing or bare, not %q", only)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	var stops []func(context.Context) error
	defer func() {
		// On a start error, stop what did start.
		if stops != nil {
			_ = stopAll(stops)
		}
	}()
	for _, s := range []struct {
		name string
		opts []fx.Option
	}{{"apex", nil}, {"tracing", []fx.Option{bench.WithRecordingTracer()}}} {
		if only != "all" && only != s.name {
			continue
		}
		a, err := bench.StartApex(ctx, set, s.opts...)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("%s http://%s\n", s.name, a.Addr)
		stops = append(stops, a.Stop)
	}
	if only == "all" || only == "bare" {
		addr, stopBare, err := bench.Serve(bench.Bare(bench.NewStore()))
		if err != nil {
			return err
		}
		fmt.Printf("bare http://%s\n", addr)
		stops = append(stops, stopBare)
	}
	statsAddr, stopStats, err := serveStats()
	if err != nil {
		return err
	}
	fmt.Printf("stats http://%s/allocs\n", statsAddr)
	stops = append(stops, stopStats)
	if pprofAddr != "" {
		addr, stopPprof, err := servePprof(pprofAddr)
		if err != nil {
			return err
		}
		fmt.Printf("pprof http://%s/debug/pprof/\n", addr)
		stops = append(stops, stopPprof)
	}

	<-ctx.Done()
	err = stopAll(stops)
	stops = nil
	return err
}

func stopAll(stops []func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	for _, s := range stops {
		errs = append(errs, s(ctx))
	}
	return errors.Join(errs...)
}

func servePprof(addr string) (string, func(context.Context) error, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("-pprof: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", nil, fmt.Errorf("-pprof must be a loopback address, not %q", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), srv.Shutdown, nil
}

// serveStats serves the process's cumulative heap allocations, objects and
// bytes, on an ephemeral loopback port.
func serveStats() (string, func(context.Context) error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}}
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/allocs", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		metrics.Read(samples)
		fmt.Fprintf(w, "%d %d\n", samples[0].Value.Uint64(), samples[1].Value.Uint64())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), srv.Shutdown, nil
}
