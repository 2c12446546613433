package neo4j_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/neo4j"
)

// launcher runs tools/neo4j-test-server/run.sh in the background on a fixed
// port and data directory, so that a killed server can be started again on
// the same data.
type launcher struct {
	t    *testing.T
	port int
	dir  string
	pid  int
}

func (l *launcher) start(resume bool) string {
	l.t.Helper()
	uriFile := filepath.Join(l.dir, "neo4j.uri")
	args := []string{"--background", "--uri-file", uriFile, "--port", strconv.Itoa(l.port), "--dir", filepath.Join(l.dir, "data")}
	if resume {
		args = append(args, "--resume")
	}
	cmd := exec.Command("../tools/neo4j-test-server/run.sh", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		l.t.Fatalf("run.sh: %v", err)
	}
	pid, err := os.ReadFile(uriFile + ".pid")
	if err != nil {
		l.t.Fatal(err)
	}
	l.pid, _ = strconv.Atoi(strings.TrimSpace(string(pid)))
	return strings.TrimSpace(string(out))
}

// kill ends the server at once (SIGKILL: no shutdown, no flush) and waits
// until it is gone.
func (l *launcher) kill() {
	if l.pid == 0 {
		return
	}
	syscall.Kill(l.pid, syscall.SIGKILL)
	for range 200 {
		if syscall.Kill(l.pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.pid = 0
}

// TestCrashRecovery kills Neo4j with SIGKILL under a write load and starts
// it again on the same files: every write the store acknowledged is there,
// and the store (the same *Store, the same driver) carries on. It starts its
// own servers, so it runs only with NEO4J_CRASH_TEST=1 (and Java and Maven).
func TestCrashRecovery(t *testing.T) {
	if os.Getenv("NEO4J_CRASH_TEST") != "1" {
		t.Skip("NEO4J_CRASH_TEST=1 runs it (it starts and kills its own Neo4j)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := &launcher{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(srv.kill)
	uri := srv.start(false)

	ctx := context.Background()
	s, err := neo4j.Open(ctx, neo4j.Options{URI: uri, Namespace: "crash", MaxRetryTime: 90 * time.Second,
		ConnectTimeout: 2 * time.Second, AcquireTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := contextd.Scope{Tenant: "acme"}

	var (
		mu        sync.Mutex
		acked     []string
		failures  int
		afterBack int
		back      bool
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := contextd.ContextCreate{ID: fmt.Sprintf("w%d-%d", w, i), Title: "crash test", Content: "durable", UserID: "u"}
				if err := c.Normalize("body"); err != nil {
					t.Error(err)
					return
				}
				_, err := s.CreateContexts(ctx, sc, []contextd.ContextCreate{c})
				mu.Lock()
				if err == nil {
					acked = append(acked, c.ID)
					if back {
						afterBack++
					}
				} else {
					failures++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second)
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	srv.kill()
	t.Logf("killed Neo4j after %d acknowledged writes", before)
	time.Sleep(time.Second)
	start := time.Now()
	srv.start(true)
	t.Logf("Neo4j back after %v", time.Since(start).Round(time.Millisecond))
	mu.Lock()
	back = true
	mu.Unlock()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	t.Logf("%d writes acknowledged (%d after the restart), %d failed", len(acked), afterBack, failures)
	if before == 0 || afterBack == 0 {
		t.Fatalf("the load did not run on both sides of the crash: %d before, %d after", before, afterBack)
	}
	var lost []string
	for _, id := range acked {
		if _, err := s.GetContext(ctx, sc, id); err != nil {
			lost = append(lost, id+": "+err.Error())
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost, e.g. %v", len(lost), lost[:min(len(lost), 5)])
	}
	st, err := s.IndexStats(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if st.Documents < len(acked) {
		t.Errorf("%d contexts stored, %d acknowledged", st.Documents, len(acked))
	}
}
