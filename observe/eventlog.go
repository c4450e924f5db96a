package observe

import (
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
)

// EventLogger makes fx log its events through the app's zap logger. At
// info level it writes one line when the app has started and one when it
// has stopped, each with its duration; fx's other events are at debug
// level, and failures at error level. Give it at the root of fx.New;
// apex.Modules includes it.
var EventLogger = fx.WithLogger(NewEventLogger)

// NewEventLogger returns an fxevent.Logger writing to log.
func NewEventLogger(log *zap.Logger) fxevent.Logger {
	return &eventLogger{log: log.WithOptions(zap.WithCaller(false)).Named("fx"), created: time.Now()}
}

type eventLogger struct {
	log       *zap.Logger
	created   time.Time
	mu        sync.Mutex
	stopBegan time.Time
}

func (l *eventLogger) markStop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopBegan.IsZero() {
		l.stopBegan = time.Now()
	}
}

func (l *eventLogger) LogEvent(event fxevent.Event) {
	switch e := event.(type) {
	case *fxevent.OnStartExecuted:
		if e.Err != nil {
			l.log.Error("start hook failed", zap.String("callee", e.FunctionName), zap.String("caller", e.CallerName), zap.Error(e.Err))
			return
		}
		l.log.Debug("start hook ran", zap.String("callee", e.FunctionName), zap.String("caller", e.CallerName), zap.Duration("runtime", e.Runtime))
	case *fxevent.OnStopExecuting:
		l.markStop()
	case *fxevent.OnStopExecuted:
		if e.Err != nil {
			l.log.Error("stop hook failed", zap.String("callee", e.FunctionName), zap.String("caller", e.CallerName), zap.Error(e.Err))
			return
		}
		l.log.Debug("stop hook ran", zap.String("callee", e.FunctionName), zap.String("caller", e.CallerName), zap.Duration("runtime", e.Runtime))
	case *fxevent.Provided:
		if e.Err != nil {
			l.log.Error("provide failed", zap.String("constructor", e.ConstructorName), zap.String("module", e.ModuleName), zap.Error(e.Err))
		}
	case *fxevent.Supplied:
		if e.Err != nil {
			l.log.Error("supply failed", zap.String("type", e.TypeName), zap.Error(e.Err))
		}
	case *fxevent.Replaced:
		if e.Err != nil {
			l.log.Error("replace failed", zap.Strings("types", e.OutputTypeNames), zap.Error(e.Err))
		}
	case *fxevent.Decorated:
		if e.Err != nil {
			l.log.Error("decorate failed", zap.String("decorator", e.DecoratorName), zap.Error(e.Err))
		}
	case *fxevent.Invoked:
		if e.Err != nil {
			l.log.Error("invoke failed", zap.String("function", e.FunctionName), zap.String("module", e.ModuleName), zap.Error(e.Err))
		}
	case *fxevent.Stopping:
		l.markStop()
		l.log.Info("stopping", zap.String("signal", e.Signal.String()))
	case *fxevent.Stopped:
		l.mu.Lock()
		began := l.stopBegan
		l.mu.Unlock()
		var took time.Duration
		if !began.IsZero() {
			took = time.Since(began)
		}
		if e.Err != nil {
			l.log.Error("stopped with errors", zap.Duration("took", took), zap.Error(e.Err))
			return
		}
		l.log.Info("stopped", zap.Duration("took", took))
	case *fxevent.RollingBack:
		l.log.Error("start failed, rolling back", zap.Error(e.StartErr))
	case *fxevent.RolledBack:
		if e.Err != nil {
			l.log.Error("rollback failed", zap.Error(e.Err))
		}
	case *fxevent.Started:
		if e.Err != nil {
			l.log.Error("start failed", zap.Error(e.Err))
			return
		}
		l.log.Info("started", zap.Duration("took", time.Since(l.created)))
	case *fxevent.LoggerInitialized:
		if e.Err != nil {
			l.log.Error("custom logger failed", zap.Error(e.Err))
		}
	}
}
