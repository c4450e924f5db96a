package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/internal/wsclient"
	"github.com/apexgo/apex/realtime/memory"
	"github.com/apexgo/apex/realtime/redis"
)

// BenchmarkConnections10k opens APEX_BENCH_CONNS (default 10,000)
// WebSocket connections to a hub in a separate process, subscribed to
// one channel, and reports the server's memory per connection and the
// delivery latency of one publication to all of them (p50, p99) and the
// server's CPU time for connecting them and the fan-out rounds, for
// apex's hub and for raw centrifuge with the same broker and transport,
// in one run:
//
//	go test -run XXX -bench Connections10k -benchtime 1x ./realtime/hub/
func BenchmarkConnections10k(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("APEX_BENCH_CONNS")); err == nil && v > 0 {
		n = v
	}
	for _, mode := range []string{"raw", "apex", "apex-redis-3"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				benchOnce(b, mode, n)
			}
		})
	}
}

// startServer runs TestBenchServer in its own process and returns its
// base URL.
func startServer(b *testing.B, mode, prefix string) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServer$", "-test.v")
	cmd.Env = append(os.Environ(), "APEX_BENCH_SERVER="+mode, "APEX_BENCH_PREFIX="+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	buf := make([]byte, 4096)
	for {
		k, err := out.Read(buf)
		if err != nil {
			b.Fatalf("server: %v", err)
		}
		for _, line := range strings.Split(string(buf[:k]), "\n") {
			if a, ok := strings.CutPrefix(line, "ADDR "); ok {
				return "http://" + strings.TrimSpace(a)
			}
		}
	}
}

func benchOnce(b *testing.B, mode string, n int) {
	servers := 1
	prefix := ""
	if mode == "apex-redis-3" {
		servers = 3
		prefix = testservice.Unique("apexrtbench")
		testservice.Need(b, testservice.Redis)
	}
	bases := make([]string, servers)
	for i := range bases {
		bases[i] = startServer(b, mode, prefix)
	}
	base := bases[0]
	type stats struct{ Bytes, CPUSeconds float64 }
	read := func() stats {
		var sum stats
		for _, base := range bases {
			r, err := http.Get(base + "/mem")
			if err != nil {
				b.Fatal(err)
			}
			var m stats
			_ = json.NewDecoder(r.Body).Decode(&m)
			r.Body.Close()
			sum.Bytes += m.Bytes
			sum.CPUSeconds += m.CPUSeconds
		}
		return sum
	}
	mem := func() float64 { return read().Bytes }
	startCPU := read().CPUSeconds
	before := mem()
	conns := make([]*wsclient.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed error
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := wsclient.Dial(ctx, bases[i%servers]+"/ws", nil)
			if err == nil {
				_, err = c.Connect("", 30*time.Second)
			}
			if err == nil {
				_, err = c.Call("subscribe", map[string]any{"channel": "room:bench"}, 30*time.Second)
			}
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatalf("connect: %v", failed)
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	time.Sleep(2 * time.Second)
	after := mem()
	perConn := (after - before) / float64(n)

	// Fan-out: each publication carries its send time.
	var lat []float64
	for round := range 5 {
		got := make([]float64, n)
		var rw sync.WaitGroup
		for i, c := range conns {
			rw.Add(1)
			go func() {
				defer rw.Done()
				m, err := c.Await(func(m wsclient.Msg) bool { return m.Push != nil && m.Push.Pub != nil }, 30*time.Second)
				if err != nil {
					got[i] = -1
					return
				}
				var p struct{ T int64 }
				_ = json.Unmarshal(m.Push.Pub.Data, &p)
				got[i] = float64(time.Now().UnixNano()-p.T) / 1e6
			}()
		}
		time.Sleep(200 * time.Millisecond)
		if _, err := http.Post(base+"/publish", "", nil); err != nil {
			b.Fatal(err)
		}
		rw.Wait()
		if round > 0 { // the first round warms up
			lat = append(lat, got...)
		}
	}
	slices.Sort(lat)
	if lat[0] < 0 {
		b.Fatalf("some clients got no publication")
	}
	p := func(q float64) float64 { return lat[int(q*float64(len(lat)-1))] }
	b.ReportMetric(read().CPUSeconds-startCPU, "server-cpu-s")
	b.ReportMetric(perConn/1024, "KiB/conn")
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(n), "conns")
}

// TestBenchServer is the server side of BenchmarkConnections10k, run in
// its own process; it does nothing in a normal test run.
func TestBenchServer(t *testing.T) {
	mode := os.Getenv("APEX_BENCH_SERVER")
	if mode == "" {
		t.Skip("the server half of BenchmarkConnections10k")
	}
	var node *centrifuge.Node
	var ws http.Handler
	switch mode {
	case "apex", "apex-redis-3":
		cfg := hub.Config{
			AllowAnonymous: true,
			Namespaces:     map[string]hub.Namespace{"room": {Public: true}},
			Limits:         hub.Limits{MaxConnsPerIP: 1 << 20},
		}
		var h *hub.Hub
		var err error
		if mode == "apex" {
			h, err = memory.New(cfg)
		} else {
			h, err = redis.New(redis.Config{Addr: testservice.Need(t, testservice.Redis), Prefix: os.Getenv("APEX_BENCH_PREFIX")}, cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		node, ws = h.Node(), h.Handlers(nil).WebSocket
	case "raw":
		n, err := centrifuge.New(centrifuge.Config{})
		if err != nil {
			t.Fatal(err)
		}
		n.OnConnecting(func(context.Context, centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
			return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{}}, nil
		})
		n.OnConnect(func(c *centrifuge.Client) {
			c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
				cb(centrifuge.SubscribeReply{}, nil)
			})
		})
		if err := n.Run(); err != nil {
			t.Fatal(err)
		}
		node, ws = n, centrifuge.NewWebsocketHandler(n, centrifuge.WebsocketConfig{})
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	mux.HandleFunc("/mem", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		_ = json.NewEncoder(w).Encode(map[string]float64{"Bytes": float64(m.HeapInuse + m.StackInuse), "CPUSeconds": cpu})
	})
	mux.HandleFunc("/publish", func(w http.ResponseWriter, _ *http.Request) {
		_, err := node.Publish("room:bench", fmt.Appendf(nil, `{"T":%d}`, time.Now().UnixNano()))
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", l.Addr())
	_ = http.Serve(l, mux)
}
