// Package webhook is the default [port.Alerter]: it POSTs each alert as
// JSON to a URL. The body has a Slack-compatible "text" field plus the
// alert's structured fields, so it works with Slack, Mattermost, Discord's
// Slack endpoint, Teams workflows and any custom receiver.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe/port"
)

// Config configures a webhook Alerter.
type Config struct {
	// URL receives the POST. It is a secret: Slack-style URLs carry a token.
	URL app.Secret
	// Timeout bounds one delivery. Default 5s.
	Timeout time.Duration
	// Client sends the request. Default: a client with no timeout of its
	// own (Timeout and the caller's context bound each request).
	Client *http.Client
}

// Alerter posts alerts to a webhook.
type Alerter struct {
	url     app.Secret
	timeout time.Duration
	client  *http.Client
}

var _ port.Alerter = (*Alerter)(nil)

// New returns an Alerter for cfg. The URL must be absolute http or https.
func New(cfg Config) (*Alerter, error) {
	u, err := url.Parse(cfg.URL.Reveal())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhook: URL must be an absolute http(s) URL")
	}
	a := &Alerter{url: cfg.URL, timeout: cfg.Timeout, client: cfg.Client}
	if a.timeout <= 0 {
		a.timeout = 5 * time.Second
	}
	if a.client == nil {
		a.client = &http.Client{}
	}
	return a, nil
}

// Payload is the JSON body of a webhook request.
type Payload struct {
	// Text is a one-line summary for chat tools.
	Text string `json:"text"`
	port.Alert
}

// slackEscape escapes the three characters Slack's mrkdwn treats as
// markup, so that error text cannot ping <!channel> or forge links.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Text formats the chat summary of an alert, escaped for Slack.
func Text(a port.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s %s: %s", a.Env, a.Service, strings.ToUpper(a.Level), slackEscape.Replace(a.Message))
	if a.Error != "" {
		b.WriteString(": " + slackEscape.Replace(a.Error))
	}
	if a.Count > 1 {
		fmt.Fprintf(&b, " (×%d)", a.Count)
	}
	if a.RequestID != "" {
		b.WriteString(" request_id=" + slackEscape.Replace(a.RequestID))
	}
	if a.TraceID != "" {
		b.WriteString(" trace_id=" + slackEscape.Replace(a.TraceID))
	}
	return b.String()
}

// Alert implements [port.Alerter].
func (w *Alerter) Alert(ctx context.Context, a port.Alert) error {
	body, err := json.Marshal(Payload{Text: Text(a), Alert: a})
	if err != nil {
		return fmt.Errorf("%w: encode: %v", port.ErrDelivery, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url.Reveal(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: build request", port.ErrDelivery)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		// url.Error carries the URL, which is a secret: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", port.ErrDelivery, ctx.Err())
		}
		return fmt.Errorf("%w: %v", port.ErrDelivery, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: receiver answered %s", port.ErrDelivery, resp.Status)
	}
	return nil
}
