// Package smtpmail is domain.Mailer over SMTP, on
// github.com/wneessen/go-mail: one connection per message, bounded by
// the context and by Config.Timeout.
package smtpmail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/apexgo/apex/examples/service/domain"
)

// Defaults of Config.
const (
	DefaultPort    = 587
	DefaultTLS     = "mandatory"
	DefaultTimeout = 15 * time.Second
)

// Config says where and how to send.
type Config struct {
	// Host is the SMTP server; required.
	Host string
	// Port is its port. Default DefaultPort (587, submission).
	Port int
	// Username and Password log in with SMTP AUTH PLAIN when Username is
	// set. Default none.
	Username, Password string
	// From is the sender address; required.
	From string
	// TLS is "mandatory" (STARTTLS required), "opportunistic" (STARTTLS
	// when offered), "implicit" (TLS from the first byte, port 465) or
	// "none". Default DefaultTLS (mandatory).
	TLS string
	// Timeout bounds one message, dial to QUIT. Default DefaultTimeout
	// (15s).
	Timeout time.Duration
}

// Mailer is safe for concurrent use.
type Mailer struct {
	cfg  Config
	opts []gomail.Option
}

var _ domain.Mailer = (*Mailer)(nil)

// New checks cfg, applies its defaults and returns the mailer. It
// contacts no server.
func New(cfg Config) (*Mailer, error) {
	cfg.Port = cmp.Or(cfg.Port, DefaultPort)
	cfg.TLS = cmp.Or(cfg.TLS, DefaultTLS)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	var errs []error
	if cfg.Host == "" {
		errs = append(errs, errors.New("smtpmail: Host is required"))
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		errs = append(errs, fmt.Errorf("smtpmail: From %q: %w", cfg.From, err))
	}
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout)}
	switch cfg.TLS {
	case "mandatory":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "implicit":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		errs = append(errs, fmt.Errorf("smtpmail: TLS %q: want mandatory, opportunistic, implicit or none", cfg.TLS))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Mailer{cfg: cfg, opts: opts}, nil
}

// Send implements domain.Mailer.
func (m *Mailer) Send(ctx context.Context, e domain.Email) error {
	if _, err := mail.ParseAddress(e.To); err != nil {
		return fmt.Errorf("%w: recipient %q: %v", domain.ErrInvalid, e.To, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	msg := gomail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return err
	}
	if err := msg.To(e.To); err != nil {
		return fmt.Errorf("%w: recipient %q: %v", domain.ErrInvalid, e.To, err)
	}
	msg.Subject(e.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, e.Body)
	c, err := gomail.NewClient(m.cfg.Host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtpmail: send to %s:%d: %w", m.cfg.Host, m.cfg.Port, err)
	}
	return nil
}
