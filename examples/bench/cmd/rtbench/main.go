// Command rtbench measures apex's realtime hub with many WebSocket
// connections, against raw centrifuge with the same load in the same run:
//
//	go run ./cmd/rtbench
//
// For each server it starts a separate process (this program re-executed
// with -serve), opens -conns (default 10,000) WebSocket connections to it
// from this process, each connected and subscribed to one channel, and
// measures:
//
//   - the server's memory per connection: Go heap and stacks in use after a
//     GC, against the figure before connecting;
//   - the delivery latency of one publication to every subscriber, from the
//     server's Publish call (the publication carries its time) to the
//     client's read of the frame, over -rounds fan-outs after a warm-up:
//     p50, p99 and the slowest;
//   - the server's CPU time (user + system, from /proc) for connecting and
//     subscribing the clients, and per fan-out; and this process's (the
//     clients') CPU time per fan-out.
//
// The servers: "raw" is centrifuge alone (memory broker, its WebSocket
// handler, a connect handler that admits everyone and a subscribe handler
// that allows everything; centrifuge's defaults, which are apex's);
// "apex" is apex's hub on its memory backend with its transport wrapper,
// policy and limits (anonymous connections allowed, a public namespace,
// the per-IP connection limit raised because every client comes from
// 127.0.0.1; not the echo middleware); "apex-redis-3" is three apex hub
// processes on the Redis at -redis, the clients spread over them and the
// publication made on the first. -modes orders them; the default
// alternates raw and apex twice so that each is measured twice in one run.
//
// The clients are light so that the machine's CPU goes to the server: a
// raw WebSocket handshake, one pre-encoded frame with the connect and
// subscribe commands (centrifuge's JSON protocol), then the sockets are
// read by one epoll loop per core (one read per ready socket, no goroutine
// per connection), with no JSON decoding: the publication time is read
// from the frame's bytes. They answer the server's pings; a connection
// the server closes is reported with its close code.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/centrifugal/centrifuge"

	"github.com/apexgo/apex/examples/bench"
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/memory"
	"github.com/apexgo/apex/realtime/redis"
)

const channel = "room:bench"

func main() {
	serve := flag.String("serve", "", "internal: run the server of this mode")
	prefix := flag.String("prefix", "", "internal: the Redis key prefix of the server")
	conns := flag.Int("conns", 10_000, "WebSocket connections per mode")
	rounds := flag.Int("rounds", 5, "measured fan-outs per mode (after one warm-up)")
	modes := flag.String("modes", "raw,apex,raw,apex,apex-redis-3", "servers to measure, in this order")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "the Redis of apex-redis-3")
	pprofAddr := flag.String("pprof", "", "internal/diagnosis: serve net/http/pprof on this address in the server")
	flag.Parse()
	if *serve != "" {
		if err := runServer(*serve, *redisAddr, *prefix, *pprofAddr); err != nil {
			log.Fatal(err)
		}
		return
	}
	fmt.Printf("rtbench: %d connections, %d rounds; CPU %s, %d cores, load average %s\n",
		*conns, *rounds, bench.CPUModel(), runtime.NumCPU(), bench.LoadAverage())
	fmt.Printf("%-13s %10s %9s %9s %9s %12s %12s %12s\n", "mode", "KiB/conn", "p50 ms", "p99 ms", "max ms", "srv conn s", "srv fan ms", "cli fan ms")
	type sum struct{ runs, kib, connect, fanout float64 }
	sums := map[string]*sum{}
	for _, mode := range strings.Split(*modes, ",") {
		r, err := measure(mode, *conns, *rounds, *redisAddr, *pprofAddr)
		if err != nil {
			log.Fatalf("%s: %v", mode, err)
		}
		fmt.Printf("%-13s %10.2f %9.1f %9.1f %9.1f %12.3f %12.1f %12.1f\n", mode, r.kibPerConn, r.p50, r.p99, r.max, r.connectCPU, r.fanoutCPU, r.clientCPU)
		if sums[mode] == nil {
			sums[mode] = &sum{}
		}
		s := sums[mode]
		s.runs++
		s.kib += r.kibPerConn
		s.connect += r.connectCPU
		s.fanout += r.fanoutCPU
	}
	if a, r := sums["apex"], sums["raw"]; a != nil && r != nil {
		pct := func(x, y float64) float64 { return (x/a.runs)/(y/r.runs)*100 - 100 }
		fmt.Printf("apex over raw (means of %v and %v runs): memory %+.1f%%, connect CPU %+.1f%%, fan-out CPU %+.1f%%\n",
			a.runs, r.runs, pct(a.kib, r.kib), pct(a.connect, r.connect), pct(a.fanout, r.fanout))
	}
	fmt.Printf("load average after: %s\n", bench.LoadAverage())
}

// ---- server ----

func runServer(mode, redisAddr, prefix, pprofAddr string) error {
	var node *centrifuge.Node
	var ws http.Handler
	switch mode {
	case "apex", "apex-redis-3":
		cfg := hub.Config{
			AllowAnonymous: true,
			Namespaces:     map[string]hub.Namespace{"room": {Public: true}},
			// Every client comes from 127.0.0.1.
			Limits: hub.Limits{MaxConnsPerIP: 1 << 20},
		}
		var h *hub.Hub
		var err error
		if mode == "apex" {
			h, err = memory.New(cfg)
		} else {
			h, err = redis.New(redis.Config{Addr: redisAddr, Prefix: prefix}, cfg)
		}
		if err != nil {
			return err
		}
		node, ws = h.Node(), h.Handlers(nil).WebSocket
	case "raw":
		n, err := centrifuge.New(centrifuge.Config{})
		if err != nil {
			return err
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
			return err
		}
		node, ws = n, centrifuge.NewWebsocketHandler(n, centrifuge.WebsocketConfig{})
	default:
		return fmt.Errorf("unknown mode %q (raw, apex, apex-redis-3)", mode)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	mux.HandleFunc("/mem", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "%d", m.HeapInuse+m.StackInuse)
	})
	mux.HandleFunc("/publish", func(w http.ResponseWriter, _ *http.Request) {
		if _, err := node.Publish(channel, fmt.Appendf(nil, `{"T":%d}`, time.Now().UnixNano())); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	if pprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() { log.Println(http.ListenAndServe(pprofAddr, pm)) }()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("ADDR %s\n", l.Addr())
	// The parent closing stdin (or dying) ends the server.
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	return http.Serve(l, mux)
}

// ---- coordinator ----

type server struct {
	cmd  *exec.Cmd
	addr string
	in   io.Closer
}

func startServer(mode, redisAddr, prefix, pprofAddr string) (*server, error) {
	args := []string{"-serve", mode, "-redis", redisAddr, "-prefix", prefix}
	if pprofAddr != "" {
		args = append(args, "-pprof", pprofAddr)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return &server{cmd: cmd, addr: a, in: in}, nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("server %s did not start", mode)
}

func (s *server) stop() {
	_ = s.in.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func (s *server) mem() (float64, error) {
	r, err := http.Get("http://" + s.addr + "/mem")
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return strconv.ParseFloat(string(b), 64)
}

// cpu is the process's user + system time in seconds, from /proc.
func cpu(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): utime is the
	// 14th field, stime the 15th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

type result struct {
	kibPerConn, p50, p99, max float64
	connectCPU                float64 // s, all servers
	fanoutCPU, clientCPU      float64 // ms per fan-out
}

func measure(mode string, n, rounds int, redisAddr, pprofAddr string) (result, error) {
	var res result
	count := 1
	prefix := ""
	if mode == "apex-redis-3" {
		count = 3
		prefix = fmt.Sprintf("rtbench%d", time.Now().UnixNano())
	}
	servers := make([]*server, 0, count)
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for i := range count {
		pa := ""
		if i == 0 {
			pa = pprofAddr
		}
		s, err := startServer(mode, redisAddr, prefix, pa)
		if err != nil {
			return res, err
		}
		servers = append(servers, s)
	}
	serverCPU := func() float64 {
		var sum float64
		for _, s := range servers {
			sum += cpu(s.cmd.Process.Pid)
		}
		return sum
	}
	memSum := func() (float64, error) {
		var sum float64
		for _, s := range servers {
			m, err := s.mem()
			if err != nil {
				return 0, err
			}
			sum += m
		}
		return sum, nil
	}
	before, err := memSum()
	if err != nil {
		return res, err
	}

	f := newFanout(n)
	// As many pollers as cores, reading from the first connection on (the
	// server pings every 25s and closes a connection that does not answer).
	pollers := make([]*poller, runtime.NumCPU())
	for k := range pollers {
		p, err := newPoller(f)
		if err != nil {
			return res, err
		}
		pollers[k] = p
		go p.run()
		defer p.close()
	}
	clients := make([]*client, n)
	cpu0 := serverCPU()
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	sem := make(chan struct{}, 50)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(servers[i%count].addr, i)
			if err != nil {
				failed.Store(&err)
				return
			}
			clients[i] = c
			if err := pollers[i%len(pollers)].add(c); err != nil {
				failed.Store(&err)
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.conn.Close()
			}
		}
	}()
	if e := failed.Load(); e != nil {
		return res, fmt.Errorf("connect: %w", *e)
	}
	res.connectCPU = serverCPU() - cpu0
	time.Sleep(time.Second)
	after, err := memSum()
	if err != nil {
		return res, err
	}
	res.kibPerConn = (after - before) / float64(n) / 1024

	var lat []int64
	var srvCPU, cliCPU float64
	for round := range rounds + 1 {
		f.reset()
		time.Sleep(300 * time.Millisecond) // let the previous round's writes settle
		s0, c0 := serverCPU(), selfCPU()
		r, err := http.Post("http://"+servers[0].addr+"/publish", "", nil)
		if err != nil {
			return res, err
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return res, fmt.Errorf("publish: %s", r.Status)
		}
		if err := f.wait(30 * time.Second); err != nil {
			return res, err
		}
		if round > 0 { // the first round warms up
			srvCPU += serverCPU() - s0
			cliCPU += selfCPU() - c0
			lat = append(lat, f.lat...)
		}
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	res.p50, res.p99, res.max = q(0.5), q(0.99), q(1)
	res.fanoutCPU = srvCPU / float64(rounds) * 1000
	res.clientCPU = cliCPU / float64(rounds) * 1000
	return res, nil
}

// fanout collects one round's latencies, one slot per client.
type fanout struct {
	lat  []int64
	got  atomic.Int64
	done chan struct{}
	mu   sync.Mutex
}

func newFanout(n int) *fanout { return &fanout{lat: make([]int64, n)} }

func (f *fanout) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.lat)
	f.got.Store(0)
	f.done = make(chan struct{})
}

func (f *fanout) record(i int, d int64) {
	f.lat[i] = d
	if f.got.Add(1) == int64(len(f.lat)) {
		f.mu.Lock()
		close(f.done)
		f.mu.Unlock()
	}
}

func (f *fanout) wait(timeout time.Duration) error {
	f.mu.Lock()
	done := f.done
	f.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%d of %d clients got the publication within %v (%d connections closed by the server, %d close frames)",
			f.got.Load(), len(f.lat), timeout, closedConns.Load(), closeFrames.Load())
	}
}

// ---- a light WebSocket client ----

// client is one connection: a raw WebSocket handshake and the connect and
// subscribe frame on a blocking net.Conn, then its socket is read by a
// poller (epoll), not by a goroutine of its own.
type client struct {
	conn    net.Conn
	fd      int
	i       int
	pending []byte // a frame split across reads
}

// frame encodes a client text frame; the zero mask key leaves the
// payload as it is.
func frame(payload string) []byte {
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, 0, 0, 0, 0)
	return append(b, payload...)
}

var (
	connectFrame = frame(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + channel + `"}}`)
	pongFrame    = frame(`{}`)
	handshake    = "GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)

func dial(addr string, i int) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*client, error) { conn.Close(); return nil, err }
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, handshake); err != nil {
		return fail(err)
	}
	r := bufio.NewReaderSize(conn, 512)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		return fail(fmt.Errorf("handshake: %q %v", status, err))
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fail(err)
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := conn.Write(connectFrame); err != nil {
		return fail(err)
	}
	// Until the subscribe reply.
	var buf []byte
	for {
		buf, err = readFrame(r, buf)
		if err != nil {
			return fail(err)
		}
		if bytes.Contains(buf, []byte(`"error"`)) {
			return fail(fmt.Errorf("server: %s", buf))
		}
		if bytes.Contains(buf, []byte(`"id":2`)) {
			break
		}
	}
	_ = conn.SetDeadline(time.Time{})
	c := &client{conn: conn, i: i}
	if k := r.Buffered(); k > 0 {
		c.pending, _ = r.Peek(k)
		c.pending = bytes.Clone(c.pending)
	}
	sc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return fail(err)
	}
	_ = sc.Control(func(fd uintptr) { c.fd = int(fd) })
	return c, nil
}

// readFrame reads one server frame (unmasked) into buf[:0].
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return buf, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return buf, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		return buf, errors.New("frame too large")
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// poller reads the sockets of its clients as they become readable: one
// epoll_wait for many ready sockets, one read each, no goroutine per
// connection.
type poller struct {
	epfd    int
	clients []atomic.Pointer[client] // by file descriptor
	f       *fanout
	stop    atomic.Bool
	done    chan struct{}
}

func newPoller(f *fanout) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &poller{epfd: fd, clients: make([]atomic.Pointer[client], 1<<16), f: f, done: make(chan struct{})}, nil
}

func (p *poller) add(c *client) error {
	if c.fd >= len(p.clients) {
		return fmt.Errorf("file descriptor %d", c.fd)
	}
	p.clients[c.fd].Store(c)
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)})
}

func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 4096)
	for !p.stop.Load() {
		n, err := syscall.EpollWait(p.epfd, events, 100)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			c := p.clients[ev.Fd].Load()
			k, err := syscall.Read(c.fd, buf)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			if k <= 0 || err != nil {
				_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
				if !p.stop.Load() {
					closedConns.Add(1)
				}
				continue
			}
			p.frames(c, buf[:k], time.Now().UnixNano())
		}
	}
}

func (p *poller) close() {
	p.stop.Store(true)
	<-p.done
	_ = syscall.Close(p.epfd)
}

var (
	tKey        = []byte(`"T":`)
	closedConns atomic.Int64 // closed by the server during a measurement
	closeFrames atomic.Int64
)

// frames handles the frames in data (after what was pending).
func (p *poller) frames(c *client, data []byte, now int64) {
	if len(c.pending) > 0 {
		data = append(c.pending, data...)
		c.pending = nil
	}
	for len(data) >= 2 {
		n, hl := int(data[1]&0x7f), 2
		if n == 126 {
			if len(data) < 4 {
				break
			}
			n, hl = int(binary.BigEndian.Uint16(data[2:4])), 4
		}
		if len(data) < hl+n {
			break
		}
		op, payload := data[0]&0x0f, data[hl:hl+n]
		data = data[hl+n:]
		if op == 0x8 {
			if closeFrames.Add(1) == 1 && len(payload) >= 2 {
				log.Printf("the server closes a connection: %d %s", binary.BigEndian.Uint16(payload), payload[2:])
			}
			continue
		}
		if len(payload) == 2 && payload[0] == '{' && payload[1] == '}' { // ping
			_, _ = syscall.Write(c.fd, pongFrame)
			continue
		}
		if k := bytes.Index(payload, tKey); k >= 0 {
			var t int64
			for _, d := range payload[k+len(tKey):] {
				if d < '0' || d > '9' {
					break
				}
				t = t*10 + int64(d-'0')
			}
			p.f.record(c.i, now-t)
		}
	}
	if len(data) > 0 {
		c.pending = bytes.Clone(data)
	}
}
