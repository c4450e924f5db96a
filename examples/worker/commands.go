package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue"
)

// command runs one command against the configured queue backend, in an
// app that does not start the workers.
func command(args []string, out io.Writer, extra ...fx.Option) error {
	var c *queue.Client
	opts := append([]fx.Option{apex.Without(apex.HTTP), jobsModule, fx.NopLogger,
		fx.Decorate(func(cfg queue.Config) queue.Config { cfg.Worker = false; return cfg }),
		fx.Decorate(func(cfg observe.Config) observe.Config { cfg.Admin.Addr = ""; return cfg }),
		fx.Populate(&c)}, extra...)
	a := fx.New(opts...)
	if err := a.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = a.Stop(context.Background()) }()
	return run(ctx, c, args, out)
}

func run(ctx context.Context, c *queue.Client, args []string, out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	switch {
	case len(args) == 3 && args[0] == "enqueue":
		id, err := c.Enqueue(ctx, args[1], json.RawMessage(args[2]))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, id)
		return err
	case len(args) == 2 && args[0] == "status":
		st, err := c.Status(ctx, args[1])
		if err != nil {
			return err
		}
		return enc.Encode(queue.View(st))
	case len(args) >= 3 && args[0] == "dead":
		dl, err := c.DeadLetters()
		if err != nil {
			return err
		}
		q, ids := args[2], args[3:]
		switch args[1] {
		case "list":
			limit := 100
			if len(ids) == 1 {
				if limit, err = strconv.Atoi(ids[0]); err != nil {
					return fmt.Errorf("limit %q: %w", ids[0], err)
				}
			}
			ss, err := dl.Dead(ctx, q, 0, limit)
			if err != nil {
				return err
			}
			views := make([]queue.StatusView, len(ss))
			for i, s := range ss {
				views[i] = queue.View(s)
			}
			return enc.Encode(views)
		case "replay":
			n, err := dl.Replay(ctx, q, ids...)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "replayed %d\n", n)
			return err
		case "purge":
			n, err := dl.Purge(ctx, q, ids...)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "purged %d\n", n)
			return err
		}
	}
	usage(out)
	return errors.New("unknown command")
}
