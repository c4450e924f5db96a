// Package observe gives an apex app its logs, traces, metrics and alerts.
//
// [Module] builds the app's *zap.Logger (JSON in production, console in
// development, with the request ID, trace ID and span ID of a request on
// every line through [Logger]), an OpenTelemetry tracer provider that
// exports over OTLP/HTTP when observe.tracing.endpoint is set (a no-op
// otherwise), a Prometheus registry served at observe.metrics.path, and an
// [Alerter] that every entry at ERROR or above reaches through a bounded,
// non-blocking queue: a webhook when observe.alerts.webhook_url is set,
// the log otherwise. [EventLogger] makes fx report its lifecycle through
// the same logger.
//
// The port is defined in the leaf package observe/port so that backends
// (observe/webhook, observe/logonly, your own) can implement it without
// importing this package; the names here are aliases of those.
// observe/observetest is its conformance suite.
package observe

import "github.com/apexgo/apex/observe/port"

// Alerter delivers alerts somewhere a person will see them; see
// [port.Alerter] for the contract.
type Alerter = port.Alerter

// Alert is one critical event, or several identical ones folded together;
// see [port.Alert].
type Alert = port.Alert

// ErrDelivery is wrapped by errors from an Alerter that could not deliver,
// for use with errors.Is; see [port.ErrDelivery].
var ErrDelivery = port.ErrDelivery
