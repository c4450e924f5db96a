package observe

import (
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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
	return &eventLogger{log: fallback, created: time.Now(), printed: map[string]bool{}}
}

type eventLogger struct {
	mu          sync.Mutex
	log         *zap.Logger
	attached    bool
	printed     map[string]bool
	created     time.Time
	stopBegan   time.Time
	startFailed bool
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

// failed logs an error event. Before the app's logger exists, only the
// root cause is printed, once: an invalid config reads as a list of keys,
// not as fx's chain of constructors.
func (l *eventLogger) failed(msg string, err error, fields ...zap.Field) {
	log, attached := l.logger()
	if attached {
		log.Error(msg, append(fields, zap.Error(err))...)
		return
	}
	root := dig.RootCause(err)
	l.mu.Lock()
	seen := l.printed[root.Error()]
	l.printed[root.Error()] = true
	l.mu.Unlock()
	if !seen {
		log.Error("cannot start: " + root.Error())
	}
}

func (l *eventLogger) markStop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopBegan.IsZero() {
		l.stopBegan = time.Now()
	}
}

func (l *eventLogger) LogEvent(event fxevent.Event) {
	log, _ := l.logger()
	switch e := event.(type) {
	case *fxevent.OnStartExecuted:
		if e.Err != nil {
			// Warn: the "start failed" error that follows carries the cause
			// and raises the one alert.
			log.Warn("start hook failed", hookFields(e.FunctionName, e.CallerName, zap.Error(e.Err))...)
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
	case *fxevent.Provided:
		if e.Err != nil {
			l.failed("provide failed", e.Err, zap.String("constructor", e.ConstructorName), zap.String("module", e.ModuleName))
		}
	case *fxevent.Run:
		if e.Err != nil {
			l.failed("constructor failed", e.Err, zap.String("function", e.Name), zap.String("module", e.ModuleName))
		}
	case *fxevent.Supplied:
		if e.Err != nil {
			l.failed("supply failed", e.Err, zap.String("type", e.TypeName))
		}
	case *fxevent.Replaced:
		if e.Err != nil {
			l.failed("replace failed", e.Err, zap.Strings("types", e.OutputTypeNames))
		}
	case *fxevent.Decorated:
		if e.Err != nil {
			l.failed("decorate failed", e.Err, zap.String("decorator", e.DecoratorName))
		}
	case *fxevent.Invoked:
		if e.Err != nil {
			l.failed("invoke failed", e.Err, zap.String("function", e.FunctionName), zap.String("module", e.ModuleName))
		}
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
	case *fxevent.RollingBack:
		// Logged here, not at Started: by then the rollback has stopped
		// the alert dispatcher, and the alert would never leave.
		l.failed("start failed, rolling back", e.StartErr)
		l.mu.Lock()
		l.startFailed = true
		l.mu.Unlock()
	case *fxevent.RolledBack:
		if e.Err != nil {
			l.failed("rollback failed", e.Err)
		}
	case *fxevent.Started:
		if e.Err != nil {
			l.mu.Lock()
			told := l.startFailed
			l.mu.Unlock()
			if !told {
				l.failed("start failed", e.Err)
			}
			return
		}
		log.Info("started", zap.Duration("took", time.Since(l.created)))
	case *fxevent.LoggerInitialized:
		if e.Err != nil {
			l.failed("custom logger failed", e.Err)
		}
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
