package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

const healthcheckUsage = `Usage: contextd healthcheck [--ready] [--url URL] [--timeout D]

Asks the running server on this machine whether it is alive: GET /health
(liveness) or, with --ready, GET /health/ready (the store and the disk
answer). The address comes from the same configuration the server reads
(HOST and PORT; a wildcard HOST such as 0.0.0.0 is asked on the loopback
address), or from --url. It is the container image's HEALTHCHECK: images
without curl or a shell run the binary itself.

The exit status is 0 when the server answers 200, 1 otherwise.

Flags:
`

// runHealthcheck is "contextd healthcheck": one probe of a running server.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("healthcheck", stderr)
	ready := fset.Bool("ready", false, "probe /health/ready (dependencies) instead of /health (liveness)")
	base := fset.String("url", "", "base URL of the server (default: http://HOST:PORT from the configuration)")
	timeout := fset.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), healthcheckUsage)
		fset.PrintDefaults()
	}
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("healthcheck takes no arguments (got %q)", fset.Arg(0))}
	}
	if *base == "" {
		*base = "http://" + net.JoinHostPort(probeHost(cfg.Host), strconv.Itoa(cfg.Port))
	}
	path := "/health"
	if *ready {
		path = "/health/ready"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *base+path, nil)
	if err != nil {
		return usageError{fmt.Sprintf("healthcheck: bad --url %q: %v", *base, err)}
	}
	req.Header.Set("User-Agent", "contextd-healthcheck")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", req.URL, resp.Status)
	}
	fmt.Fprintln(stdout, "ok", req.URL.String())
	return nil
}

// probeHost is the address to ask for a server listening on host: the
// loopback address for a wildcard or empty host.
func probeHost(host string) string {
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		return "127.0.0.1"
	}
	return host
}
