package app

import (
	"path"
	"runtime/debug"
	"strings"
)

// Environments an app can run in, chosen by APP_ENV.
const (
	Development = "development"
	Production  = "production"
	Test        = "test"
)

// Info describes the running service. The module provides it; logs, traces,
// alerts and metrics label themselves with it.
type Info struct {
	// Name is the service name: service.name, else the main package's last
	// path element.
	Name string
	// Env is APP_ENV: development (the default), test, production, or any
	// other lower-case name such as staging, which behaves like production.
	Env string
	// Version is service.version, else the main module's version from the
	// Go build info ("(devel)" for a local build).
	Version string
	// Commit is the VCS revision from the Go build info, or "".
	Commit string
}

// IsProduction reports whether the app runs production-like: any
// environment other than development and test (so "staging" counts).
func (i Info) IsProduction() bool { return i.Env != Development && i.Env != Test }

func buildInfo() (name, version, commit string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "apex", "(unknown)", ""
	}
	name = path.Base(bi.Path)
	name = strings.TrimSuffix(name, ".test")
	if name == "" || name == "." || name == "command-line-arguments" {
		name = "apex"
	}
	version = bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			commit = s.Value
		}
	}
	return name, version, commit
}
