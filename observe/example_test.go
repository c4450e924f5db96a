package observe_test

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/observe"
)

// Handlers get a logger that carries the request's IDs.
func ExampleLogger() {
	core, logs := observer.New(zapcore.InfoLevel)
	ctx := observe.ContextWithLogger(context.Background(), zap.New(core))
	ctx = observe.ContextWithRequestID(ctx, "req-42")

	observe.Logger(ctx).Info("order placed")
	fmt.Println(logs.All()[0].ContextMap()["request_id"])
	// Output: req-42
}
