package observe

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/app"
)

// EventLogger makes fx log its events through the app's zap logger. At
// info level it writes one line when the app has started and one when it
// has stopped, each with its duration; fx's other events are at debug
// level, and failures at error level. Until the logger exists (and when it
// cannot be built, say because the config is invalid) errors go to stderr,
// each root cause once. Give it at the root of fx.New; apex.Modules
// includes it.
var EventLogger = fx.WithLogger(func(l *eventLogger) fxevent.Logger { return l })

// NewEventLogger returns an fxevent.Logger writing to log.
func NewEventLogger(log *zap.Logger) fxevent.Logger {
	l := newEventLogger()
	l.attach(log)
	return l
}

func newEventLogger() *eventLogger {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.TimeKey, enc.CallerKey = "", ""
	fallback := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), zapcore.ErrorLevel))
	return &eventLogger{log: fallback, created: time.Now(), reported: map[string]bool{}}
}

type eventLogger struct {
	mu        sync.Mutex
	log       *zap.Logger
	attached  bool
	reported  map[string]bool // root causes already logged at ERROR
	created   time.Time
	stopBegan time.Time
}

func (l *eventLogger) attach(log *zap.Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = log.WithOptions(zap.WithCaller(false)).Named("fx")
	l.attached = true
}

func (l *eventLogger) logger() (*zap.Logger, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log, l.attached
}

// LogEvent implements fxevent.Logger: hooks, the stop, the start's outcome
// and container failures each have their own method.
func (l *eventLogger) LogEvent(event fxevent.Event) {
	switch e := event.(type) {
	case *fxevent.OnStartExecuted, *fxevent.OnStopExecuting, *fxevent.OnStopExecuted:
		l.hookEvent(e)
	case *fxevent.Stopping, *fxevent.Stopped:
		l.stopEvent(e)
	case *fxevent.RollingBack, *fxevent.RolledBack, *fxevent.Started:
		l.startEvent(e)
	default:
		if err, where := containerFailure(event); err != nil {
			l.failed("start failed", err, where...)
		}
	}
}

func (l *eventLogger) hookEvent(event fxevent.Event) {
	log, _ := l.logger()
	switch e := event.(type) {
	case *fxevent.OnStartExecuted:
		if e.Err != nil {
			// Debug: the one "start failed" ERROR follows with the cause.
			log.Debug("start hook failed", hookFields(e.FunctionName, e.CallerName, zap.Error(e.Err))...)
			return
		}
		log.Debug("start hook ran", hookFields(e.FunctionName, e.CallerName, zap.Duration("runtime", e.Runtime))...)
	case *fxevent.OnStopExecuting:
		l.markStop()
	case *fxevent.OnStopExecuted:
		if e.Err != nil {
			log.Warn("stop hook failed", hookFields(e.FunctionName, e.CallerName, zap.Error(e.Err))...)
			return
		}
		log.Debug("stop hook ran", hookFields(e.FunctionName, e.CallerName, zap.Duration("runtime", e.Runtime))...)
	}
}

func (l *eventLogger) stopEvent(event fxevent.Event) {
	log, _ := l.logger()
	switch e := event.(type) {
	case *fxevent.Stopping:
		l.markStop()
		log.Info("stopping", zap.String("signal", e.Signal.String()))
	case *fxevent.Stopped:
		l.mu.Lock()
		began := l.stopBegan
		l.mu.Unlock()
		var took time.Duration
		if !began.IsZero() {
			took = time.Since(began)
		}
		if e.Err != nil {
			l.failed("stopped with errors", e.Err, zap.Duration("took", took))
			return
		}
		log.Info("stopped", zap.Duration("took", took))
	}
}

func (l *eventLogger) startEvent(event fxevent.Event) {
	switch e := event.(type) {
	case *fxevent.RollingBack:
		// Logged here, not at Started: by then the rollback has stopped
		// the alert dispatcher, and the alert would never leave.
		l.failed("start failed", e.StartErr)
	case *fxevent.RolledBack:
		if e.Err != nil {
			l.failed("rollback failed", e.Err)
		}
	case *fxevent.Started:
		if e.Err != nil {
			l.failed("start failed", e.Err) // once: a hook's failure was told at RollingBack
			return
		}
		log, _ := l.logger()
		log.Info("started", zap.Duration("took", time.Since(l.created)))
	}
}

// containerFailure returns the error of an event in which fx failed to
// build the app, with fields saying where; nil for any other event.
func containerFailure(event fxevent.Event) (error, []zap.Field) {
	switch e := event.(type) {
	case *fxevent.Provided:
		return e.Err, where("constructor", e.ConstructorName, e.ModuleName)
	case *fxevent.Run:
		return e.Err, where("constructor", e.Name, e.ModuleName)
	case *fxevent.Invoked:
		return e.Err, where("function", e.FunctionName, e.ModuleName)
	case *fxevent.Decorated:
		return e.Err, where("decorator", e.DecoratorName, e.ModuleName)
	case *fxevent.Supplied:
		return e.Err, where("type", e.TypeName, e.ModuleName)
	case *fxevent.Replaced:
		return e.Err, where("types", strings.Join(e.OutputTypeNames, ", "), e.ModuleName)
	case *fxevent.LoggerInitialized:
		return e.Err, where("constructor", e.ConstructorName, "")
	}
	return nil, nil
}

// where names a function and its module, leaving out what says nothing:
// fx.Annotate's wrappers all run as reflect.makeFuncStub.
func where(kind, name, module string) []zap.Field {
	var fields []zap.Field
	if name != "" && !strings.HasPrefix(name, "reflect.") {
		fields = append(fields, zap.String(kind, name))
	}
	if module != "" {
		fields = append(fields, zap.String("module", module))
	}
	return fields
}

// failed logs a failure once per root cause, in one line: the root cause
// (dig.RootCause: not fx's chain of constructors and source files), the
// setting and its environment variable when the cause names one, the
// hook when one failed, and where. fx reports one failure in several
// events (constructor, invoke, start); the later ones go to DEBUG with the
// whole chain. Before the app's logger exists (an invalid config, say)
// the line goes to stderr.
func (l *eventLogger) failed(msg string, err error, fields ...zap.Field) {
	root := dig.RootCause(err)
	log, attached := l.logger()
	l.mu.Lock()
	seen := l.reported[root.Error()]
	l.reported[root.Error()] = true
	l.mu.Unlock()
	if seen {
		log.Debug(msg+" (already reported)", zap.Error(err))
		return
	}
	if errors.Is(root, app.ErrInvalidConfig) {
		fields = nil // the list of keys says it all; where it was read does not matter
	}
	fields = append(fields, causeFields(root)...)
	if !attached {
		// The console line says the cause in its message.
		log.Error("cannot start: "+root.Error(), fields...)
		return
	}
	log.Error(msg, append(fields, zap.Error(plainError{root}))...)
}

// causeFields describe a root cause: the setting named by an "a.b: ..."
// or "a.b (APP_A__B): ..." prefix with its environment variable, and the
// failed hook.
func causeFields(root error) []zap.Field {
	var fields []zap.Field
	if m := settingPrefix.FindStringSubmatch(root.Error()); m != nil {
		fields = append(fields, zap.String("setting", m[1]), zap.String("env", app.EnvName(m[1])))
	}
	var he *app.HookError
	if errors.As(root, &he) && he.Hook != "" {
		fields = append(fields, zap.String("hook", he.Hook))
	}
	return fields
}

// settingPrefix matches the config key that apex's errors start with.
var settingPrefix = regexp.MustCompile(`^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?: \(APP_[A-Z0-9_]+\))?: `)

// plainError logs as its text alone: zap would add an errorVerbose field
// for an error that formats itself with %+v.
type plainError struct{ err error }

func (e plainError) Error() string { return e.err.Error() }

func (l *eventLogger) markStop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopBegan.IsZero() {
		l.stopBegan = time.Now()
	}
}

// hookFields names a hook, leaving out the names of apex's budget wrapper
// (app.Timeouts), which say nothing about which hook it was.
func hookFields(callee, caller string, more ...zap.Field) []zap.Field {
	fields := make([]zap.Field, 0, 2+len(more))
	if !strings.Contains(callee, "budgetLifecycle") {
		fields = append(fields, zap.String("callee", callee))
	}
	if !strings.Contains(caller, "budgetLifecycle") {
		fields = append(fields, zap.String("caller", caller))
	}
	return append(fields, more...)
}
