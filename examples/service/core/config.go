package core

import (
	"time"

	"github.com/apexgo/apex/app"
)

// Defaults of the "tracker" section.
const (
	DefaultReportsPerHour = 10
	DefaultSnapshotEvery  = time.Minute
	DefaultCacheTTL       = time.Minute
	DefaultSQLitePath     = "var/tracker.db"
	DefaultMailFrom       = "tracker@example.com"
	DefaultMailDriver     = "auto"
)

// Config is the tracker's own section, "tracker" (environment
// APP_TRACKER__...).
type Config struct {
	// ReportsPerHour is how many reports one user may request per hour
	// (the "reports" rate-limit policy, burst the same, shared by every
	// instance on Redis). Default [DefaultReportsPerHour] (10).
	ReportsPerHour int `koanf:"reports_per_hour" validate:"gte=1"`
	// SnapshotEvery is the period of the usage snapshot schedule
	// ("snapshot" in queue.schedules unless config declares one), whole
	// seconds. Default [DefaultSnapshotEvery] (1m).
	SnapshotEvery time.Duration `koanf:"snapshot_every" validate:"gte=1s"`
	// CacheTTL bounds how long a tenant's project list is served from
	// the cache. Default [DefaultCacheTTL] (1m).
	CacheTTL time.Duration `koanf:"cache_ttl" validate:"gt=0"`
	// Mail configures notifications (tracker.mail).
	Mail MailConfig `koanf:"mail"`
}

// MailConfig is tracker.mail.
type MailConfig struct {
	// Driver is auto (SMTP when host is set, else memory), smtp or
	// memory (messages kept in process and logged). Default auto.
	Driver string `koanf:"driver" validate:"oneof=auto smtp memory"`
	// Host and Port are the SMTP server's. Default none and 587.
	Host string `koanf:"host"`
	Port int    `koanf:"port" validate:"gte=0,lte=65535"`
	// Username and Password log in (AUTH PLAIN) when Username is set.
	// Default none.
	Username string     `koanf:"username"`
	Password app.Secret `koanf:"password"`
	// From is the sender. Default [DefaultMailFrom].
	From string `koanf:"from" validate:"required,email"`
	// TLS is mandatory (STARTTLS), opportunistic, implicit or none.
	// Default mandatory.
	TLS string `koanf:"tls" validate:"omitempty,oneof=mandatory opportunistic implicit none"`
	// Timeout bounds one message. Default 15s.
	Timeout time.Duration `koanf:"timeout" validate:"gte=0"`
}

// DefaultConfig returns the section's defaults.
func DefaultConfig() Config {
	return Config{ReportsPerHour: DefaultReportsPerHour, SnapshotEvery: DefaultSnapshotEvery, CacheTTL: DefaultCacheTTL,
		Mail: MailConfig{Driver: DefaultMailDriver, From: DefaultMailFrom}}
}
