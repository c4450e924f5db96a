package queue

import (
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/apexgo/apex/queue/outbox"
)

// EnqueueTx writes a job of kind with payload into the outbox table in
// tx, a transaction (from data.InTx: data.CurrentTx, or gorm's
// Transaction): the job exists if and only if tx commits, and then the
// outbox relay hands it to the backend with the ID returned here (see
// queue/outbox). The job carries the request ID, tenant, subject and
// trace context of tx's context. Options are those of Enqueue; a unique
// key is checked when the relay enqueues, so a duplicate is dropped
// there (logged), not reported here. It needs queue.outbox.enabled.
func (c *Client) EnqueueTx(tx *gorm.DB, kind string, payload any, opts ...Option) (string, error) {
	if !c.cfg.Outbox.Enabled {
		return "", errors.New("queue: EnqueueTx needs the outbox: set queue.outbox.enabled (APP_QUEUE__OUTBOX__ENABLED)")
	}
	if tx == nil || tx.Statement == nil || tx.Statement.Context == nil {
		return "", errors.New("queue: EnqueueTx needs a transaction")
	}
	msgs, err := c.Prepare(tx.Statement.Context, Item{Kind: kind, Payload: payload, Options: opts})
	if err != nil {
		return "", err
	}
	if err := outbox.Insert(tx, msgs, c.cfg.Outbox.Notify); err != nil {
		return "", fmt.Errorf("queue: enqueue %s in the transaction: %w", kind, err)
	}
	return msgs[0].ID, nil
}
