package queue

import (
	"context"
	"errors"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/apexgo/apex/queue/outbox"
)

// outboxModule runs the outbox migrations and relay on the primary
// database when queue.outbox.enabled.
var outboxModule = fx.Invoke(registerOutbox)

type outboxIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Backend   Queue
	Log       *zap.Logger
	DB        *gorm.DB `optional:"true"`
}

func registerOutbox(in outboxIn) error {
	c := in.Config.Outbox
	if !c.Enabled {
		return nil
	}
	if in.DB == nil {
		return errors.New("queue.outbox.enabled (APP_QUEUE__OUTBOX__ENABLED) needs a database: add the data module")
	}
	relay, err := outbox.NewRelay(in.DB, in.Backend, outbox.Config{Batch: c.Batch, Poll: c.Poll, Listen: c.Notify}, in.Log)
	if err != nil {
		return err
	}
	in.Lifecycle.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if c.Migrate {
				if err := outbox.Migrate(ctx, in.DB, in.Log); err != nil {
					return err
				}
			}
			if !c.Relay {
				return nil
			}
			in.Log.Info("queue: outbox relay started")
			return relay.Start()
		},
		OnStop: relay.Stop,
	})
	return nil
}
