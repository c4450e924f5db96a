package app

import (
	"time"

	"go.uber.org/fx"
)

// ServiceConfig is the "service" section: who the service is and how long
// it may take to start and stop.
type ServiceConfig struct {
	// Name labels logs, traces, metrics and alerts. Default: the main
	// package's name (service.name, APP_SERVICE__NAME).
	Name string `koanf:"name" validate:"omitempty,max=64"`
	// Version overrides the version read from the Go build info.
	Version string `koanf:"version" validate:"omitempty,max=64"`
	// StartTimeout bounds the whole start sequence. Default 15s.
	StartTimeout time.Duration `koanf:"start_timeout" validate:"gt=0,lte=5m"`
	// StopTimeout bounds the whole stop sequence. Default 15s.
	StopTimeout time.Duration `koanf:"stop_timeout" validate:"gt=0,lte=5m"`
}

// DefaultServiceConfig returns the built-in defaults of the service section.
func DefaultServiceConfig() ServiceConfig {
	return ServiceConfig{StartTimeout: 15 * time.Second, StopTimeout: 15 * time.Second}
}

// Module provides [Config] (from [Load], or from a *[LoadParams] supplied to
// the container), [Info], *[State], [ConfigReport] and the [ServiceConfig] section, and validates
// every section declared with [ProvideSection] before any is used.
var Module = fx.Module("app",
	fx.Provide(newConfig, newSections, newInfo, newReport, func() *State { return &State{} }),
	ProvideSection("service", DefaultServiceConfig),
)

type configIn struct {
	fx.In
	Params *LoadParams `optional:"true"`
}

type configOut struct {
	fx.Out
	Config Config
	Env    envName
}

type envName string

func newConfig(in configIn) (configOut, error) {
	var p LoadParams
	if in.Params != nil {
		p = *in.Params
	}
	l, err := Load(p)
	if err != nil {
		return configOut{}, err
	}
	return configOut{Config: l.Config, Env: envName(l.Env)}, nil
}

func newInfo(sc ServiceConfig, env envName) Info {
	name, version, commit := buildInfo()
	if sc.Name != "" {
		name = sc.Name
	}
	if sc.Version != "" {
		version = sc.Version
	}
	return Info{Name: name, Env: string(env), Version: version, Commit: commit}
}
