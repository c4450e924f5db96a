package smtpmail_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/examples/service/domain/domaintest"
	"github.com/apexgo/apex/examples/service/smtpmail"
	"github.com/apexgo/apex/examples/service/smtpmail/smtptest"
)

// The Mailer contract over a real SMTP conversation with a server the
// test starts.
func TestContract(t *testing.T) {
	t.Parallel()
	domaintest.RunMailer(t, func(t *testing.T) (domain.Mailer, func() []domain.Email) {
		srv := smtptest.Start(t)
		host, port, _ := net.SplitHostPort(srv.Addr)
		p, _ := strconv.Atoi(port)
		m, err := smtpmail.New(smtpmail.Config{Host: host, Port: p, From: "tracker@example.com", TLS: "none"})
		if err != nil {
			t.Fatal(err)
		}
		return m, srv.Received
	})
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := smtpmail.New(smtpmail.Config{From: "nope", TLS: "sometimes"})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"Host is required", `From "nope"`, `TLS "sometimes"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m, err := smtpmail.New(smtpmail.Config{Host: "127.0.0.1", Port: port, From: "tracker@example.com", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(t.Context(), domain.Email{To: "a@example.com", Subject: "s", Body: "b"}); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("send to a closed port: %v", err)
	}
}
