// Package memmail is domain.Mailer in process memory: the service's
// mailer when no SMTP server is configured (every message is also
// logged by the caller), and a test double that records what was sent.
package memmail

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"sync"

	"github.com/apexgo/apex/examples/service/domain"
)

// DefaultMax is how many messages an Outbox keeps by default.
const DefaultMax = 1000

// Outbox keeps the last messages sent, at most its bound (oldest
// dropped first). Safe for concurrent use.
type Outbox struct {
	mu   sync.Mutex
	max  int
	sent []domain.Email
}

var _ domain.Mailer = (*Outbox)(nil)

// New returns an Outbox keeping at most max messages (DefaultMax for
// max <= 0).
func New(max int) *Outbox {
	if max <= 0 {
		max = DefaultMax
	}
	return &Outbox{max: max}
}

// Send implements domain.Mailer.
func (o *Outbox) Send(ctx context.Context, e domain.Email) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(e.To); err != nil {
		return fmt.Errorf("%w: recipient %q: %v", domain.ErrInvalid, e.To, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == o.max {
		o.sent = slices.Delete(o.sent, 0, 1)
	}
	o.sent = append(o.sent, e)
	return nil
}

// Sent returns a copy of the messages kept, oldest first.
func (o *Outbox) Sent() []domain.Email {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.sent)
}
