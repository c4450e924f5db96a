package observe

import (
	"fmt"
	"os"
	"runtime/debug"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/app"
)

// NewLogger builds the zap logger described by cfg (see [NewCore]) with
// extra cores (a test observer, a second sink) teed in. It does not raise
// alerts; [Module] adds that.
func NewLogger(cfg LogConfig, info app.Info, extra ...zapcore.Core) (*zap.Logger, error) {
	core, err := NewCore(cfg, info)
	if err != nil {
		return nil, err
	}
	return newZap(zapcore.NewTee(append([]zapcore.Core{core}, extra...)...)), nil
}

// newZap is the logger every apex app logs through: caller on, stacks from
// DPanic up, zap's own errors on stderr.
func newZap(core zapcore.Core) *zap.Logger {
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.DPanicLevel), zap.ErrorOutput(zapcore.Lock(os.Stderr)))
}

// NewCore builds the zap core described by cfg: JSON lines labelled with
// the service, env and version in production-like environments, console
// otherwise (unless cfg.Format says), at cfg.Level, written to cfg.Output.
func NewCore(cfg LogConfig, info app.Info) (zapcore.Core, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("observe.log.level: %w", err)
	}
	ws, err := openOutput(cfg.Output)
	if err != nil {
		return nil, fmt.Errorf("observe.log.output: %w", err)
	}
	format := cfg.Format
	if format == "" || format == "auto" {
		format = "console"
		if info.IsProduction() {
			format = "json"
		}
	}
	var enc zapcore.Encoder
	if format == "json" {
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "time"
		ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		ec.EncodeDuration = zapcore.MillisDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		if !isTerminal(cfg.Output) {
			ec.EncodeLevel = zapcore.CapitalLevelEncoder
		}
		enc = zapcore.NewConsoleEncoder(ec)
	}
	var core zapcore.Core
	if format == "json" && cfg.BufferSize > 0 {
		bws := newBufferedSyncer(ws, cfg.BufferSize, cfg.FlushInterval)
		core = &flushAt{Core: zapcore.NewCore(enc, bws, level), ws: bws, level: zapcore.ErrorLevel}
	} else {
		core = zapcore.NewCore(enc, ws, level)
	}
	if format == "json" {
		core = core.With([]zap.Field{zap.String("service", info.Name), zap.String("env", info.Env), zap.String("version", info.Version)})
	}
	return core, nil
}

func openOutput(out string) (zapcore.WriteSyncer, error) {
	switch out {
	case "", "stderr":
		return zapcore.Lock(os.Stderr), nil
	case "stdout":
		return zapcore.Lock(os.Stdout), nil
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return zapcore.Lock(f), nil
}

func isTerminal(out string) bool {
	f := os.Stderr
	switch out {
	case "stdout":
		f = os.Stdout
	case "", "stderr":
	default:
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// LogPanic logs a recovered panic value at ERROR with its stack, so that it
// raises an alert. apex calls it wherever it recovers a panic; use it in
// your own goroutines:
//
//	defer func() {
//		if v := recover(); v != nil {
//			observe.LogPanic(log, "sync worker", v)
//		}
//	}()
func LogPanic(log *zap.Logger, where string, v any) {
	field := zap.Any("panic", v)
	if err, ok := v.(error); ok {
		field = zap.Error(err)
	}
	log.Error("panic recovered in "+where, field, zap.ByteString("stack", debug.Stack()))
}
