package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client talks to one contextd server with one credential.
type client struct {
	base    string // scheme://host:port, no trailing slash
	key     string
	tokens  []string // a multi-tenant run's JWT per tenant (see tenants.go)
	timeout time.Duration
	hc      *http.Client
}

// newClient returns a client whose transport keeps up to conns idle
// connections to the server, so that every worker reuses its own.
func newClient(base, key string, conns int, timeout time.Duration) *client {
	tr := &http.Transport{
		Proxy: nil, // a loopback target: never through a proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // the server's work, not gzip's, is what is measured
		ResponseHeaderTimeout: timeout,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
	return &client{base: strings.TrimRight(base, "/"), key: key, timeout: timeout,
		hc: &http.Client{Transport: tr}}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// statusError is a non-2xx answer.
type statusError struct {
	status int
	detail string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, http.StatusText(e.status), e.detail)
}

// do sends one request and reads the whole answer, so that the connection
// is reused. With out non-nil a 2xx body is decoded into it. It returns the
// status (0 when no answer came) and an error for a non-2xx status or a
// transport failure.
func (c *client) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred := c.credential(ctx); cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, &statusError{status: resp.StatusCode, detail: problemDetail(b)}
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// doJSON marshals in as the body of do.
func (c *client) doJSON(ctx context.Context, method, path string, in, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	return c.do(ctx, method, path, b, out)
}

// problemDetail returns the useful part of an RFC 9457 problem, or the body.
func problemDetail(b []byte) string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Location string `json:"location"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &p) != nil || (p.Title == "" && p.Detail == "") {
		return strings.TrimSpace(string(b))
	}
	s := p.Detail
	if s == "" {
		s = p.Title
	}
	for _, e := range p.Errors {
		s += "; " + e.Location + ": " + e.Message
	}
	return s
}

// errorKey names an error for the report: the HTTP status, "bad-body" (a
// 2xx answer whose JSON is not whole), "timeout" or "transport".
func errorKey(status int, err error) string {
	var bad *badBodyError
	switch {
	case errors.As(err, &bad):
		return "bad-body"
	case status != 0:
		return strconv.Itoa(status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport"
}

// serverStats is what the server says about its resources.
type serverStats struct {
	// ResidentBytes is the server's resident set (RSS), from
	// /health/details memory.residentBytes when reported, else /metrics
	// process_resident_memory_bytes. 0 when unknown.
	ResidentBytes int64 `json:"residentBytes"`
	// GoSysBytes is the memory the Go runtime obtained from the OS
	// (/health/details memory.sysBytes); it leaves out SQLite's C heap when
	// the driver is cgo, not with modernc.
	GoSysBytes int64 `json:"goSysBytes,omitempty"`
	// HeapInuseBytes is the Go heap in use.
	HeapInuseBytes int64 `json:"heapInuseBytes,omitempty"`
	// StoreBytes is the store's size on disk: /health/details
	// store.sizeBytes when reported, else the size of --data-dir.
	StoreBytes int64 `json:"storeBytes,omitempty"`
	// StoreSource says where StoreBytes came from.
	StoreSource string `json:"storeSource,omitempty"`
	// IndexBytes is the full-text index size: GET /v1/search/stats (measured
	// at most 10 s ago), else /health/details store.indexSizeBytes.
	IndexBytes int64 `json:"indexBytes,omitempty"`
	// Contexts and Memories are the tenant's counts (GET /v1/search/stats).
	Contexts int64 `json:"contexts"`
	Memories int64 `json:"memories"`
	// Notes say what could not be read.
	Notes []string `json:"notes,omitempty"`
}

// fetchServerStats reads /health/details (admin keys only), /metrics and
// /v1/search/stats; whatever cannot be read is left zero with a note.
func (c *client) fetchServerStats(ctx context.Context, dataDir string) serverStats {
	var st serverStats
	var details struct {
		Memory struct {
			ResidentBytes  int64 `json:"residentBytes"`
			SysBytes       int64 `json:"sysBytes"`
			HeapInuseBytes int64 `json:"heapInuseBytes"`
		} `json:"memory"`
		Store struct {
			SizeBytes      int64 `json:"sizeBytes"`
			IndexSizeBytes int64 `json:"indexSizeBytes"`
		} `json:"store"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/health/details", nil, &details); err != nil {
		st.Notes = append(st.Notes, "/health/details: "+err.Error())
	} else {
		st.ResidentBytes = details.Memory.ResidentBytes
		st.GoSysBytes = details.Memory.SysBytes
		st.HeapInuseBytes = details.Memory.HeapInuseBytes
		if details.Store.SizeBytes > 0 {
			st.StoreBytes, st.StoreSource = details.Store.SizeBytes, "/health/details"
		}
		st.IndexBytes = max(details.Store.IndexSizeBytes, 0) // as last measured: /v1/search/stats is fresher
	}
	if st.ResidentBytes == 0 {
		rss, err := c.metricValue(ctx, "process_resident_memory_bytes")
		if err != nil {
			st.Notes = append(st.Notes, "/metrics: "+err.Error())
		}
		st.ResidentBytes = int64(rss)
	}
	if st.StoreBytes == 0 && dataDir != "" {
		n, err := dirSize(dataDir)
		if err != nil {
			st.Notes = append(st.Notes, "--data-dir: "+err.Error())
		} else {
			st.StoreBytes, st.StoreSource = n, "--data-dir"
		}
	}
	var ss struct {
		Documents      int64 `json:"documents"`
		Memories       int64 `json:"memories"`
		IndexSizeBytes int64 `json:"indexSizeBytes"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/search/stats", nil, &ss); err != nil {
		st.Notes = append(st.Notes, "/v1/search/stats: "+err.Error())
	} else {
		st.Contexts, st.Memories = ss.Documents, ss.Memories
		if ss.IndexSizeBytes > 0 {
			st.IndexBytes = ss.IndexSizeBytes
		}
	}
	return st
}

// metricValue returns the value of an unlabelled metric of /metrics.
func (c *client) metricValue(ctx context.Context, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	if cred := c.credential(ctx); cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var v float64
	found := false
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok && !found {
			v, err = strconv.ParseFloat(strings.TrimSpace(rest), 64)
			found = err == nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("no %s", name)
	}
	return v, nil
}

// checkTarget refuses a URL whose host is not a loopback address, unless
// remote targets are allowed: a load generator pointed at the wrong place
// floods it.
func checkTarget(ctx context.Context, u *url.URL, allowRemote bool) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("--url %q: want http:// or https://", u.String())
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("--url %q: no host", u.String())
	}
	if allowRemote {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("--url %q is not a loopback address: pass --allow-remote to load it anyway", u.String())
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("--url %q: %w", u.String(), err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("--url %q resolves to %s, not a loopback address: pass --allow-remote to load it anyway", u.String(), ip.IP)
		}
	}
	return nil
}
