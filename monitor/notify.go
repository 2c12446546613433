package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/contextd/contextd"
)

// Notifications. Every alert change (firing, resolved, event) is sent once
// to each webhook as a generic JSON document:
//
//	{"source":"contextd","instance":"host-1","version":"v1.2.0",
//	 "status":"firing","alert":{Alert}}
//
// and to Alertmanager as a one-element list of its postable alerts. Firing
// alerts are also re-sent to Alertmanager at every tick with endsAt a few
// intervals ahead, as Prometheus does: Alertmanager resolves an alert that
// stops being refreshed, so a monitor that dies does not leave it firing.
// Info events go to Alertmanager with endsAt an hour after they happened.
//
// Deliveries run in one background goroutine, in order, each tried up to
// three times; a full queue drops new notifications (logged and counted).

// Notification settings.
const (
	notifyQueue    = 256
	notifyAttempts = 3
	notifyTimeout  = 5 * time.Second
	closeTimeout   = 5 * time.Second
	eventTTL       = time.Hour // how long Alertmanager shows an info event
)

// WebhookPayload is the body of a generic webhook notification.
type WebhookPayload struct {
	Source   string         `json:"source"` // always "contextd"
	Instance string         `json:"instance"`
	Version  string         `json:"version"`
	Status   string         `json:"status"` // the alert's: firing, resolved or event
	Alert    contextd.Alert `json:"alert"`
}

// AlertmanagerAlert is one alert of Alertmanager's POST /api/v2/alerts.
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

type delivery struct {
	target string // "webhook" or "alertmanager", for logs and metrics
	url    string
	body   []byte
}

type notifier struct {
	webhooks []string
	am       string // the full /api/v2/alerts URL, or ""
	client   *http.Client
	instance string
	version  string
	interval time.Duration // of the ticks, for Alertmanager's endsAt
	backoff  time.Duration
	log      *slog.Logger
	metrics  *metrics

	mu      sync.Mutex
	closed  bool
	started bool
	q       chan delivery
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

func newNotifier(cfg Config, log *slog.Logger, m *metrics) (*notifier, error) {
	n := &notifier{client: cfg.HTTPClient, instance: cfg.Instance, version: cfg.Version, interval: cfg.Interval,
		backoff: cfg.RetryBackoff, log: log, metrics: m}
	for _, u := range cfg.Webhooks {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("monitor: webhook URL %q: %w", u, err)
		}
		n.webhooks = append(n.webhooks, u)
	}
	if u := strings.TrimSpace(cfg.AlertmanagerURL); u != "" {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("monitor: Alertmanager URL %q: %w", u, err)
		}
		if !strings.HasSuffix(strings.TrimRight(u, "/"), "/api/v2/alerts") {
			u = strings.TrimRight(u, "/") + "/api/v2/alerts"
		}
		n.am = u
	}
	if n.client == nil {
		n.client = &http.Client{Timeout: notifyTimeout}
	}
	if n.interval <= 0 {
		n.interval = DefaultInterval
	}
	if n.backoff <= 0 {
		n.backoff = time.Second
	}
	return n, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http(s)://host/... URL")
	}
	return nil
}

// send queues the notifications of one alert change.
func (n *notifier) send(a contextd.Alert) {
	if len(n.webhooks) > 0 {
		body, _ := json.Marshal(WebhookPayload{Source: "contextd", Instance: n.instance, Version: n.version, Status: a.Status, Alert: a})
		for _, u := range n.webhooks {
			n.enqueue(delivery{target: "webhook", url: u, body: body})
		}
	}
	if n.am != "" {
		now := a.UpdatedAt
		body, _ := json.Marshal([]AlertmanagerAlert{n.amAlert(a, now)})
		n.enqueue(delivery{target: "alertmanager", url: n.am, body: body})
	}
}

// refresh re-sends the firing alerts to Alertmanager.
func (n *notifier) refresh(firing []contextd.Alert, now time.Time) {
	if n.am == "" || len(firing) == 0 {
		return
	}
	list := make([]AlertmanagerAlert, len(firing))
	for i, a := range firing {
		list[i] = n.amAlert(a, now)
	}
	body, _ := json.Marshal(list)
	n.enqueue(delivery{target: "alertmanager", url: n.am, body: body})
}

// amAlert maps an alert to Alertmanager's format: the rule is the
// alertname, the severity, service and instance are labels.
func (n *notifier) amAlert(a contextd.Alert, now time.Time) AlertmanagerAlert {
	labels := map[string]string{"alertname": a.Rule, "severity": a.Severity, "service": "contextd"}
	if n.instance != "" {
		labels["instance"] = n.instance
	}
	for k, v := range a.Labels {
		if _, taken := labels[k]; !taken {
			labels[k] = v
		}
	}
	out := AlertmanagerAlert{
		Labels:      labels,
		Annotations: map[string]string{"summary": a.Summary, "description": a.Description, "alert_id": a.ID},
		StartsAt:    a.StartsAt,
	}
	switch a.Status {
	case contextd.AlertResolved:
		out.EndsAt = *a.EndsAt
	case contextd.AlertEvent:
		out.EndsAt = a.StartsAt.Add(eventTTL)
	default:
		out.EndsAt = now.UTC().Add(4 * n.interval)
	}
	return out
}

func (n *notifier) enqueue(d delivery) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if !n.started {
		n.started = true
		n.q = make(chan delivery, notifyQueue)
		n.done = make(chan struct{})
		n.ctx, n.cancel = context.WithCancel(context.Background())
		go n.run()
	}
	select {
	case n.q <- d:
	default:
		n.log.Warn("alert notification dropped: the queue is full", "target", d.target)
		n.metrics.notified(d.target, "dropped")
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for d := range n.q {
		n.deliver(d)
	}
}

// deliver POSTs d, trying again after backoff and twice backoff.
func (n *notifier) deliver(d delivery) {
	wait := n.backoff
	var err error
	for attempt := 1; attempt <= notifyAttempts; attempt++ {
		if err = n.post(d); err == nil {
			n.metrics.notified(d.target, "ok")
			return
		}
		if attempt == notifyAttempts {
			break
		}
		select {
		case <-time.After(wait):
		case <-n.ctx.Done():
			attempt = notifyAttempts
		}
		wait *= 2
	}
	n.log.Warn("alert notification failed", "target", d.target, "url", redact(d.url), "err", err)
	n.metrics.notified(d.target, "failed")
}

func (n *notifier) post(d delivery) error {
	ctx, cancel := context.WithTimeout(n.ctx, notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "contextd/"+n.version)
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// close stops taking notifications and waits for the queued ones, at most
// closeTimeout, then abandons the rest.
func (n *notifier) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	started := n.started
	if started {
		close(n.q)
	}
	n.mu.Unlock()
	if !started {
		return
	}
	select {
	case <-n.done:
	case <-time.After(closeTimeout):
		n.cancel()
		<-n.done
	}
	n.cancel()
}

// redact drops credentials and the query of a URL for logs.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
