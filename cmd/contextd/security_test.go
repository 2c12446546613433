package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTwoProcessesShareOneRateLimit: two contextd processes (replicas, each
// on its own embedded store: one store takes one server) and one Redis
// enforce one limit per credential (the burst of 4 at 1/min). The credential
// is a JWT both accept.
func TestTwoProcessesShareOneRateLimit(t *testing.T) {
	redisURL := os.Getenv("REDIS_URL")
	if redisURL == "" {
		t.Skip("REDIS_URL not set: the Redis integration tests need a redis-server")
	}
	const secret = "replicas-share-this-secret-of-32-bytes!"
	env := []string{"REDIS_URL=" + redisURL, "API_RATE_LIMIT=1", "API_RATE_BURST=4", "RATE_LIMIT_FAIL_OPEN=false", "JWT_SECRET=" + secret}
	a := start(t, t.TempDir(), env...)
	b := start(t, t.TempDir(), env...)
	// A fresh subject, so that earlier runs on the same Redis do not count.
	key, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"tenant": "default", "role": "reader", "sub": fmt.Sprint("rl-", time.Now().UnixNano()),
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	passed, limited := 0, 0
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		r := s.do(http.MethodGet, "/v1/contexts", key, nil)
		switch r.status {
		case 200:
			passed++
		case 429:
			limited++
			if r.header.Get("Retry-After") == "" || r.header.Get("RateLimit-Remaining") != "0" {
				t.Errorf("429 without Retry-After/RateLimit headers: %v", r.header)
			}
		default:
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
	if passed != 4 || limited != 4 {
		t.Fatalf("%d passed and %d limited across two processes, want 4 and 4", passed, limited)
	}
}

// TestTLSAndServerBounds: with TLS_CERT_FILE/TLS_KEY_FILE the server speaks
// HTTPS only and sends HSTS; oversized headers are refused.
func TestTLSAndServerBounds(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := start(t, t.TempDir(), "TLS_CERT_FILE="+certFile, "TLS_KEY_FILE="+keyFile)
	s.url = strings.Replace(s.url, "http://", "https://", 1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	res, err := client.Get(s.url + "/health")
	if err != nil {
		t.Fatalf("https: %v\n%s", err, s.log())
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("https /health: %d %v", res.StatusCode, res.Header)
	}
	if res, err := http.Get(strings.Replace(s.url, "https://", "http://", 1) + "/health"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatalf("plain HTTP was served on the TLS port")
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/health", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB of headers: %d, want 431", res.StatusCode)
	}

	// Half a certificate is a configuration error.
	_, stderr, err := cli(t, t.TempDir(), nil, "serve", "--tls-cert-file", certFile)
	if err == nil || !strings.Contains(stderr, "TLS_") {
		t.Fatalf("cert without key: %v %s", err, stderr)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "contextd-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestBadSecurityConfigStopsStartup: each bad security setting stops
// start-up with one line naming it.
func TestBadSecurityConfigStopsStartup(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ env, want string }{
		{"API_RATE_BURST=-1", "API_RATE_BURST"},
		{"API_TENANT_RATE_LIMIT=x", "API_TENANT_RATE_LIMIT"},
		{"RATE_LIMIT_FAIL_OPEN=maybe", "RATE_LIMIT_FAIL_OPEN"},
		{"JWT_TTL=5s", "JWT_TTL"},
		{"JWT_CLOCK_SKEW=1h", "JWT_CLOCK_SKEW"},
		{"JWT_PUBLIC_KEY_FILE=" + garbage, "JWT_PUBLIC_KEY_FILE"},
		{"JWT_JWKS_FILE=" + garbage, "JWT_JWKS_FILE"},
		{"TLS_KEY_FILE=" + garbage, "TLS_"},
		{"TLS_CERT_FILE=" + garbage + "\x00TLS_KEY_FILE=" + garbage, "TLS_CERT_FILE"},
	} {
		cmd := exec.Command(binary, "serve")
		cmd.Dir = t.TempDir()
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + t.TempDir()}, strings.Split(tc.env, "\x00")...)
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%s: err %v, output %q; want one line naming %s", tc.env, err, out, tc.want)
		}
	}
}
