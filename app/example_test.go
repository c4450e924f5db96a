package app_test

import (
	"fmt"
	"time"

	"github.com/apexgo/apex/app"
)

func ExampleSecret() {
	dsn := app.NewSecret("postgres://app:hunter2@db/orders")
	fmt.Println(dsn)
	fmt.Printf("%v %q %#v\n", dsn, dsn, dsn)
	fmt.Println(len(dsn.Reveal()))
	// Output:
	// [REDACTED]
	// [REDACTED] "[REDACTED]" app.Secret("[REDACTED]")
	// 32
}

func ExampleDecodeSection() {
	type Config struct {
		Addr    string        `koanf:"addr" validate:"required,listen_addr"`
		Timeout time.Duration `koanf:"timeout" validate:"gt=0"`
	}
	cfg := Config{Addr: ":8080", Timeout: time.Second}
	src := app.Static(map[string]any{"orders.timeout": "0s", "orders.adress": ":9090"})
	for _, p := range app.DecodeSection(src, "orders", &cfg) {
		fmt.Printf("%s (%s): %s\n", p.Key, app.EnvName(p.Key), p.Message)
	}
	// Output:
	// orders.adress (APP_ORDERS__ADRESS): unknown key (check its spelling)
	// orders.timeout (APP_ORDERS__TIMEOUT): must be greater than 0
}
