package testservice

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server of a test's own (no persistence, in a
// temporary directory), for tests that kill and restart it.
type RedisServer struct {
	// Addr is host:port.
	Addr string
	t    testing.TB
	dir  string
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server on a free port: one in
// APEX_TEST_REDIS_SPARE_PORTS ("7420-7439") when that is set, so that runs
// on a shared machine keep to their ports, otherwise any. It is killed
// when the test ends. Without redis-server installed the test is skipped,
// or fails when services are required.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := "redis-server is not installed: " + err.Error()
		if Required() {
			t.Fatal(msg + "; APEX_REQUIRE_SERVICES=1 makes this a failure")
		}
		t.Skip(msg)
	}
	s := &RedisServer{Addr: spareAddr(t), t: t, dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

func spareAddr(t testing.TB) string {
	t.Helper()
	r := os.Getenv("APEX_TEST_REDIS_SPARE_PORTS")
	if r == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	lo, hi, _ := strings.Cut(r, "-")
	from, err1 := strconv.Atoi(lo)
	to, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || from > to {
		t.Fatalf("APEX_TEST_REDIS_SPARE_PORTS=%q: want FROM-TO", r)
	}
	for p := from; p <= to; p++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatalf("no free port in APEX_TEST_REDIS_SPARE_PORTS=%s", r)
	return ""
}

// Start starts the server (again, empty, after Kill) and waits until it
// accepts connections.
func (s *RedisServer) Start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s not accepting after 10s: %v", s.Addr, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Signal sends sig to the server: syscall.SIGSTOP freezes it (it keeps
// its connections and answers nothing) until syscall.SIGCONT.
func (s *RedisServer) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signalling redis-server: %v", err)
	}
}

// Kill ends the server at once (SIGKILL), frozen or not, and waits until
// it is gone.
func (s *RedisServer) Kill() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}
