package observe

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/internal/otlphttp"
)

// Tracing is the app's tracer provider and propagator.
type Tracing struct {
	// Provider is the SDK provider, or a no-op one when nothing exports.
	Provider trace.TracerProvider
	// Propagator reads and writes W3C traceparent/tracestate and baggage.
	Propagator propagation.TextMapPropagator
	sdk        *sdktrace.TracerProvider
}

// Recording reports whether tp records spans: false for nil and for the
// no-op provider [NewTracing] returns when tracing is off. Modules use it
// to skip instrumentation that would only feed a no-op.
func Recording(tp trace.TracerProvider) bool {
	if tp == nil {
		return false
	}
	_, off := tp.(noop.TracerProvider)
	return !off
}

// NewTracing builds tracing from cfg: an SDK provider exporting over
// OTLP/HTTP (protobuf, to the endpoint's /v1/traces) when cfg.Endpoint is
// set, also feeding any extra span processors (tests add an in-memory
// exporter this way); a no-op provider when there is neither. Spans follow a sampled parent and sample new
// traces at cfg.SampleRatio.
func NewTracing(cfg TracingConfig, info app.Info, extra ...sdktrace.SpanProcessor) (*Tracing, error) {
	t := &Tracing{
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	if cfg.Endpoint == "" && len(extra) == 0 {
		t.Provider = noop.NewTracerProvider()
		return t, nil
	}
	name := cfg.ServiceName
	if name == "" {
		name = info.Name
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", name),
		attribute.String("service.version", info.Version),
		attribute.String("deployment.environment.name", info.Env),
	)
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	}
	if cfg.Endpoint != "" {
		headers := make(map[string]string, len(cfg.Headers))
		for k, v := range cfg.Headers {
			headers[k] = v.Reveal()
		}
		// No retries: retrying would hold spans (and shutdown) while the
		// collector is down; a lost batch is the lesser harm.
		exp, err := otlphttp.New(otlphttp.Config{Endpoint: cfg.Endpoint, Headers: headers, Timeout: cfg.Timeout})
		if err != nil {
			return nil, fmt.Errorf("observe.tracing.endpoint: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithExportTimeout(cfg.Timeout)))
	}
	for _, p := range extra {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	t.sdk = sdktrace.NewTracerProvider(opts...)
	t.Provider = t.sdk
	return t, nil
}

// Shutdown flushes buffered spans and stops exporting. It returns when ctx
// ends even if the collector does not answer.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}
