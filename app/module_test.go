package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex/app"
)

type aConfig struct {
	Size int `koanf:"size" validate:"min=1"`
}

type bConfig struct {
	Mode string `koanf:"mode" validate:"oneof=fast slow"`
}

func params(t *testing.T, overrides map[string]any) *app.LoadParams {
	return &app.LoadParams{Dir: t.TempDir(), DotEnv: "-", Environ: []string{}, Env: app.Test, Overrides: overrides}
}

func TestModuleReportsAllSectionsTogether(t *testing.T) {
	t.Parallel()
	a := fx.New(
		fx.NopLogger,
		fx.Supply(params(t, map[string]any{"a.size": 0, "b.mode": "medium", "service.stop_timeout": "1h"})),
		app.Module,
		app.ProvideSection("a", func() aConfig { return aConfig{Size: 1} }),
		app.ProvideSection("b", func() bConfig { return bConfig{Mode: "fast"} }),
		fx.Invoke(func(aConfig) {}),
	)
	err := a.Err()
	if !errors.Is(err, app.ErrInvalidConfig) {
		t.Fatalf("want ErrInvalidConfig, got %v", err)
	}
	for _, want := range []string{"a.size (APP_A__SIZE)", "b.mode (APP_B__MODE)", "service.stop_timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestModuleProvidesSectionsAndInfo(t *testing.T) {
	t.Parallel()
	var (
		a    aConfig
		info app.Info
	)
	fxa := fx.New(
		fx.NopLogger,
		fx.Supply(params(t, map[string]any{"a.size": "7", "service.name": "orders", "service.version": "v1.2.3"})),
		app.Module,
		app.ProvideSection("a", func() aConfig { return aConfig{Size: 1} }),
		fx.Populate(&a, &info),
	)
	if err := fxa.Err(); err != nil {
		t.Fatal(err)
	}
	if a.Size != 7 || info.Name != "orders" || info.Version != "v1.2.3" || info.Env != app.Test || info.IsProduction() {
		t.Fatalf("got %+v %+v", a, info)
	}
}

func TestTimeoutsBoundHooks(t *testing.T) {
	t.Parallel()
	var startDeadline, stopDeadline time.Duration
	fxa := fx.New(
		fx.NopLogger,
		fx.Supply(params(t, map[string]any{"service.start_timeout": "300ms", "service.stop_timeout": "200ms"})),
		app.Module,
		app.Timeouts,
		fx.Module("user", fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.Hook{
				OnStart: func(ctx context.Context) error {
					d, _ := ctx.Deadline()
					startDeadline = time.Until(d)
					return nil
				},
				OnStop: func(ctx context.Context) error {
					d, _ := ctx.Deadline()
					stopDeadline = time.Until(d)
					<-ctx.Done()
					return ctx.Err()
				},
			})
		})),
	)
	if err := fxa.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	err := fxa.Stop(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop should hit the budget, got %v", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Fatalf("stop took %v with a 200ms budget", took)
	}
	if startDeadline <= 0 || startDeadline > 300*time.Millisecond || stopDeadline <= 0 || stopDeadline > 200*time.Millisecond {
		t.Fatalf("deadlines not from config: start %v stop %v", startDeadline, stopDeadline)
	}
}

// registerSlowStart appends a start hook that waits for its context.
func registerSlowStart(lc fx.Lifecycle) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
}

// A start that runs out of service.start_timeout names the hook that did
// not finish and the setting, with its environment variable.
func TestStartTimeoutNamesHookAndSetting(t *testing.T) {
	t.Parallel()
	fxa := fx.New(
		fx.NopLogger,
		fx.Supply(params(t, map[string]any{"service.start_timeout": "100ms"})),
		app.Module,
		app.Timeouts,
		fx.Invoke(registerSlowStart),
	)
	err := fxa.Start(context.Background())
	var he *app.HookError
	if !errors.As(err, &he) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want an *app.HookError wrapping the deadline, got %v", err)
	}
	if he.Stage != "start" || !strings.HasSuffix(he.Hook, "app_test.registerSlowStart") {
		t.Fatalf("hook not named: %+v", he)
	}
	for _, want := range []string{"service.start_timeout (APP_SERVICE__START_TIMEOUT)", "100ms", "registerSlowStart"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// A hook that fails on its own is named too, and its error is kept as is.
func TestFailedHookNamed(t *testing.T) {
	t.Parallel()
	boom := errors.New("widget.url: refused")
	fxa := fx.New(
		fx.NopLogger,
		fx.Supply(params(t, nil)),
		app.Module,
		app.Timeouts,
		fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.Hook{OnStart: func(context.Context) error { return boom }})
		}),
	)
	err := fxa.Start(context.Background())
	var he *app.HookError
	if !errors.Is(err, boom) || !errors.As(err, &he) || !strings.Contains(he.Hook, "TestFailedHookNamed") ||
		strings.Contains(err.Error(), "start_timeout") || !strings.HasPrefix(err.Error(), "widget.url: refused") {
		t.Fatalf("got %v (%+v)", err, he)
	}
}
