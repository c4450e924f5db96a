// Package wsclient is a minimal WebSocket client speaking centrifuge's
// JSON protocol, for apex's tests: it can send any frame (hostile ones
// too) and reports the server's close code and reason.
package wsclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the WebSocket handshake is defined with SHA-1
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Opcodes.
const (
	OpText   = 1
	OpBinary = 2
	OpClose  = 8
	OpPing   = 9
	OpPong   = 10
)

// Close is the server's close frame.
type Close struct {
	Code   int
	Reason string
}

func (c *Close) Error() string { return fmt.Sprintf("closed: %d %s", c.Code, c.Reason) }

// Error is a reply error.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Pub is a publication.
type Pub struct {
	Data   json.RawMessage `json:"data"`
	Offset uint64          `json:"offset"`
	Info   *struct {
		User string `json:"user"`
	} `json:"info"`
}

// Msg is one reply or push.
type Msg struct {
	ID      uint32          `json:"id"`
	Error   *Error          `json:"error"`
	Connect json.RawMessage `json:"connect"`
	Sub     *struct {
		Recoverable   bool   `json:"recoverable"`
		Epoch         string `json:"epoch"`
		Offset        uint64 `json:"offset"`
		Recovered     bool   `json:"recovered"`
		WasRecovering bool   `json:"was_recovering"`
		Publications  []Pub  `json:"publications"`
	} `json:"subscribe"`
	Refresh json.RawMessage `json:"refresh"`
	Publish json.RawMessage `json:"publish"`
	Push    *struct {
		Channel string `json:"channel"`
		Pub     *Pub   `json:"pub"`
		Join    *struct {
			Info struct {
				User string `json:"user"`
			} `json:"info"`
		} `json:"join"`
		Leave *struct {
			Info struct {
				User string `json:"user"`
			} `json:"info"`
		} `json:"leave"`
		Disconnect  *Close `json:"disconnect"`
		Unsubscribe *struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"unsubscribe"`
	} `json:"push"`
	Raw json.RawMessage `json:"-"`
}

// Conn is a client connection.
type Conn struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex
	id   uint32
	msgs []Msg
	// Closed is set once the server closed.
	Closed *Close
}

// Dial opens a WebSocket to rawURL (http:// or ws://) with header.
func Dial(ctx context.Context, rawURL string, header http.Header) (*Conn, error) {
	u, err := url.Parse(strings.Replace(rawURL, "http", "ws", 1))
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	keyb := make([]byte, 16)
	_, _ = rand.Read(keyb)
	key := base64.StdEncoding.EncodeToString(keyb)
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: u.Path, RawQuery: u.RawQuery}, Host: u.Host, Header: http.Header{}}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if err := req.Write(nc); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		nc.Close()
		return nil, &HandshakeError{Status: resp.StatusCode, Body: string(body)}
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // protocol
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		nc.Close()
		return nil, errors.New("wsclient: bad Sec-WebSocket-Accept")
	}
	_ = nc.SetDeadline(time.Time{})
	return &Conn{conn: nc, br: br}, nil
}

// HandshakeError is a refused upgrade.
type HandshakeError struct {
	Status int
	Body   string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("handshake refused: %d %s", e.Status, e.Body)
}

// WriteFrame sends one masked frame.
func (c *Conn) WriteFrame(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var hdr []byte
	hdr = append(hdr, 0x80|op)
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 65536:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	hdr = append(hdr, mask...)
	buf := make([]byte, n)
	for i := range payload {
		buf[i] = payload[i] ^ mask[i%4]
	}
	_, err := c.conn.Write(append(hdr, buf...))
	return err
}

// Send sends one command (without its id) and returns the id given.
func (c *Conn) Send(method string, params any) (uint32, error) {
	c.id++
	b, err := json.Marshal(map[string]any{"id": c.id, method: params})
	if err != nil {
		return 0, err
	}
	return c.id, c.WriteFrame(OpText, b)
}

// Connect sends connect with token and waits for its reply.
func (c *Conn) Connect(token string, timeout time.Duration) (Msg, error) {
	p := map[string]any{}
	if token != "" {
		p["token"] = token
	}
	return c.Call("connect", p, timeout)
}

// Call sends a command and waits for the reply with its id.
func (c *Conn) Call(method string, params any, timeout time.Duration) (Msg, error) {
	id, err := c.Send(method, params)
	if err != nil {
		return Msg{}, err
	}
	return c.Await(func(m Msg) bool { return m.ID == id }, timeout)
}

// readFrame reads one frame, answering pings.
func (c *Conn) readFrame() (byte, []byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return 0, nil, err
		}
		op := h[0] & 0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, nil, err
		}
		if op == OpPing {
			_ = c.WriteFrame(OpPong, p)
			continue
		}
		return op, p, nil
	}
}

// Next returns the next reply or push, waiting up to timeout. Protocol
// pings (empty replies) are answered and skipped. A server close is
// returned as a *Close error.
func (c *Conn) Next(timeout time.Duration) (Msg, error) {
	if len(c.msgs) > 0 {
		m := c.msgs[0]
		c.msgs = c.msgs[1:]
		return m, nil
	}
	if c.Closed != nil {
		return Msg{}, c.Closed
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		op, p, err := c.readFrame()
		if err != nil {
			return Msg{}, err
		}
		if op == OpClose {
			cl := &Close{Code: 1005}
			if len(p) >= 2 {
				cl.Code = int(binary.BigEndian.Uint16(p))
				cl.Reason = string(p[2:])
			}
			c.Closed = cl
			_ = c.WriteFrame(OpClose, p[:min(2, len(p))])
			return Msg{}, cl
		}
		for _, line := range bytes.Split(p, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if string(line) == "{}" {
				_ = c.WriteFrame(OpText, []byte("{}"))
				continue
			}
			var m Msg
			if err := json.Unmarshal(line, &m); err != nil {
				return Msg{}, fmt.Errorf("wsclient: %w in %s", err, line)
			}
			m.Raw = append(json.RawMessage(nil), line...)
			c.msgs = append(c.msgs, m)
		}
		if len(c.msgs) > 0 {
			m := c.msgs[0]
			c.msgs = c.msgs[1:]
			return m, nil
		}
	}
}

// Await returns the first message for which pred holds, dropping the
// others, within timeout.
func (c *Conn) Await(pred func(Msg) bool, timeout time.Duration) (Msg, error) {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return Msg{}, errors.New("wsclient: timed out")
		}
		m, err := c.Next(left)
		if err != nil {
			return Msg{}, err
		}
		if pred(m) {
			return m, nil
		}
	}
}

// AwaitClose reads until the server closes, returning its close frame.
func (c *Conn) AwaitClose(timeout time.Duration) (*Close, error) {
	_, err := c.Await(func(Msg) bool { return false }, timeout)
	var cl *Close
	if errors.As(err, &cl) {
		return cl, nil
	}
	return nil, err
}

// Close closes the TCP connection.
func (c *Conn) Close() error { return c.conn.Close() }

// SetReadBuffer shrinks the socket's receive buffer (a slow client).
func (c *Conn) SetReadBuffer(n int) {
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(n)
	}
}
