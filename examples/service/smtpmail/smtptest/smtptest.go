// Package smtptest runs a local SMTP server for tests (on
// github.com/emersion/go-smtp): it accepts every message without TLS or
// authentication and keeps what it received, decoded.
package smtptest

import (
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/apexgo/apex/examples/service/domain"
)

// Server is a running SMTP server.
type Server struct {
	// Addr is host:port.
	Addr string
	mu   sync.Mutex
	got  []domain.Email
}

// Start starts a server on 127.0.0.1 and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String()}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 1 << 20
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Received returns the messages received so far, in arrival order.
func (s *Server) Received() []domain.Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s  *Server
	to []string
}

func (*session) Reset()                               {}
func (*session) Logout() error                        { return nil }
func (*session) Mail(string, *smtp.MailOptions) error { return nil }
func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

// Data decodes the message: the subject's MIME words and the body's
// quoted-printable or base64 transfer encoding, with CRLF made LF.
func (se *session) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return err
	}
	var body io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(m.Body)
	case "base64":
		return errors.New("smtptest: base64 bodies are not decoded")
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	for _, to := range se.to {
		se.s.got = append(se.s.got, domain.Email{To: to, Subject: subject, Body: text})
	}
	return nil
}
