package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/neo4j"
	"github.com/contextd/contextd/sqlite"
)

const migrateUsage = `Usage: contextd migrate --from URL --to URL [--batch N] [--quiet]

Copies every tenant's data — API keys, sessions, contexts with their
relationships, memories (expired ones too) — from one store to another, with
ids, versions and timestamps intact, then checks that the target holds as
many records of each kind and tenant as the source. The target must be empty;
stop the servers using either store first.

URLs:
  sqlite:DIR                       the embedded store in directory DIR (encrypted with
                                   ENCRYPTION_KEY or ENCRYPTION_KEY_FILE when set)
  neo4j://host:7687                Neo4j (also bolt://, neo4j+s://, bolt+s://, ...)
                                   user and password: neo4j://user:pass@host:7687, else
                                   NEO4J_USERNAME and NEO4J_PASSWORD (or NEO4J_PASSWORD_FILE);
                                   ?database=NAME, else NEO4J_DATABASE, else the server's default;
                                   ?namespace=NS for a namespaced store (tests)

Progress goes to standard error, the summary to standard output.

Flags:
`

// runMigrate is "contextd migrate --from URL --to URL".
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("migrate", stderr)
	var (
		from  = fset.String("from", "", "source store URL (sqlite:DIR or neo4j://host:port)")
		to    = fset.String("to", "", "target store URL; it must be empty")
		batch = fset.Int("batch", 500, "records per import transaction (1..5000)")
		quiet = fset.Bool("quiet", false, "no progress bar")
	)
	fset.Usage = func() {
		fmt.Fprint(stderr, migrateUsage)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		return err
	}
	switch {
	case fset.NArg() > 0:
		return usageError{fmt.Sprintf("migrate: unexpected argument %q", fset.Arg(0))}
	case *from == "" || *to == "":
		return usageError{"migrate needs --from URL and --to URL"}
	case *from == *to:
		return usageError{"migrate: --from and --to name the same store"}
	case *batch < 1 || *batch > 5000:
		return usageError{"migrate: --batch must be 1..5000"}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := openStoreURL(ctx, *from, getenv, logger)
	if err != nil {
		return fmt.Errorf("migrate: --from: %w", err)
	}
	defer src.Close()
	dst, err := openStoreURL(ctx, *to, getenv, logger)
	if err != nil {
		return fmt.Errorf("migrate: --to: %w", err)
	}
	defer dst.Close()
	exp, ok := src.(contextd.Exporter)
	if !ok {
		return fmt.Errorf("migrate: the %s store cannot export", src.Kind())
	}
	imp, ok := dst.(contextd.Importer)
	if !ok {
		return fmt.Errorf("migrate: the %s store cannot import", dst.Kind())
	}
	dstExp, ok := dst.(contextd.Exporter)
	if !ok {
		return fmt.Errorf("migrate: the %s store cannot be verified", dst.Kind())
	}

	// The target must be empty: a copy into existing data could not be checked.
	if n, err := countRecords(ctx, dstExp, 1); err != nil {
		return fmt.Errorf("migrate: reading the target: %w", err)
	} else if n.total > 0 {
		return contextd.Errorf(contextd.ECONFLICT, "the target store %s is not empty; migrate copies into an empty store only", redactURL(*to))
	}
	want, err := countRecords(ctx, exp, 0)
	if err != nil {
		return fmt.Errorf("migrate: reading the source: %w", err)
	}

	start := time.Now()
	bar := newProgress(stderr, want.total, *quiet)
	var (
		pending []*contextd.Record
		copied  int
	)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := imp.Import(ctx, pending); err != nil {
			return fmt.Errorf("migrate: writing records %d..%d: %w", copied+1, copied+len(pending), err)
		}
		copied += len(pending)
		pending = pending[:0]
		bar.set(copied)
		return nil
	}
	err = exp.Export(ctx, func(r *contextd.Record) error {
		pending = append(pending, r)
		if len(pending) >= *batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	bar.done()
	if err != nil {
		return err
	}

	got, err := countRecords(ctx, dstExp, 0)
	if err != nil {
		return fmt.Errorf("migrate: verifying the target: %w", err)
	}
	if diff := want.diff(got); diff != "" {
		return fmt.Errorf("migrate: the counts differ after the copy (source vs target): %s", diff)
	}
	fmt.Fprintf(stdout, "migrated %d records from %s (%s) to %s (%s) in %s; counts verified\n",
		copied, redactURL(*from), src.Kind(), redactURL(*to), dst.Kind(), time.Since(start).Round(time.Millisecond))
	for _, line := range want.lines() {
		fmt.Fprintln(stdout, "  "+line)
	}
	return nil
}

// openStoreURL opens the store a migrate URL names.
func openStoreURL(ctx context.Context, raw string, getenv func(string) string, logger *slog.Logger) (contextd.Store, error) {
	if dir, ok := strings.CutPrefix(raw, "sqlite:"); ok {
		dir = strings.TrimPrefix(dir, "//")
		if dir == "" {
			return nil, usageError{"sqlite: needs a directory (sqlite:DIR)"}
		}
		key, err := envStoreKey(getenv)
		if err != nil {
			return nil, err
		}
		s, err := sqlite.Open(ctx, dir, sqlite.Options{Logger: logger, EncryptionKey: key})
		if err != nil {
			return nil, storeKeyError(err)
		}
		return s, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%q is not a store URL (sqlite:DIR or neo4j://host:port)", raw)}
	}
	switch u.Scheme {
	case "neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc":
	default:
		return nil, usageError{fmt.Sprintf("%q is not a store URL (sqlite:DIR or neo4j://host:port)", redactURL(raw))}
	}
	opts := neo4j.Options{Username: getenv("NEO4J_USERNAME"), Password: getenv("NEO4J_PASSWORD"),
		Database: getenv("NEO4J_DATABASE"), Logger: logger}
	if opts.Password == "" {
		if f := getenv("NEO4J_PASSWORD_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("NEO4J_PASSWORD_FILE: %w", err)
			}
			opts.Password = strings.TrimRight(string(b), "\r\n")
		}
	}
	if u.User != nil {
		opts.Username = u.User.Username()
		opts.Password, _ = u.User.Password()
	}
	q := u.Query()
	if db := q.Get("database"); db != "" {
		opts.Database = db
	}
	opts.Namespace = q.Get("namespace")
	c := *u
	c.User, c.RawQuery = nil, ""
	opts.URI = c.String()
	s, err := neo4j.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// redactURL hides a password in a store URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// recordCounts counts records by tenant and kind.
type recordCounts struct {
	total int
	by    map[string]map[string]int // tenant → kind → count
}

var errEnough = errors.New("enough")

// countRecords counts the records of a store; with stopAt > 0 it stops
// once it has seen that many.
func countRecords(ctx context.Context, e contextd.Exporter, stopAt int) (*recordCounts, error) {
	c := &recordCounts{by: map[string]map[string]int{}}
	err := e.Export(ctx, func(r *contextd.Record) error {
		if c.by[r.Tenant] == nil {
			c.by[r.Tenant] = map[string]int{}
		}
		c.by[r.Tenant][r.Kind]++
		c.total++
		if stopAt > 0 && c.total >= stopAt {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return c, err
}

var kindOrder = []string{contextd.KindAPIKey, contextd.KindSession, contextd.KindContext, contextd.KindRelationship, contextd.KindMemory}

// lines describes the counts, one tenant a line.
func (c *recordCounts) lines() []string {
	tenants := make([]string, 0, len(c.by))
	for t := range c.by {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	var out []string
	for _, t := range tenants {
		var parts []string
		for _, k := range kindOrder {
			if n := c.by[t][k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, plural(k, n)))
			}
		}
		out = append(out, fmt.Sprintf("tenant %s: %s", t, strings.Join(parts, ", ")))
	}
	return out
}

func plural(kind string, n int) string {
	name := map[string]string{contextd.KindAPIKey: "API key", contextd.KindRelationship: "relationship",
		contextd.KindMemory: "memor", contextd.KindSession: "session", contextd.KindContext: "context"}[kind]
	switch {
	case kind == contextd.KindMemory && n == 1:
		return name + "y"
	case kind == contextd.KindMemory:
		return name + "ies"
	case n == 1:
		return name
	}
	return name + "s"
}

// diff names the tenants and kinds whose counts differ, "" when none do.
func (c *recordCounts) diff(o *recordCounts) string {
	seen := map[string]bool{}
	var out []string
	check := func(t, k string) {
		if seen[t+"\x00"+k] {
			return
		}
		seen[t+"\x00"+k] = true
		if a, b := c.by[t][k], o.by[t][k]; a != b {
			out = append(out, fmt.Sprintf("tenant %s %s: %d vs %d", t, k, a, b))
		}
	}
	for _, m := range []*recordCounts{c, o} {
		for t, kinds := range m.by {
			for k := range kinds {
				check(t, k)
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// progress draws a progress bar on w (a terminal or a log): at most every
// 200 ms, and once at the end.
type progress struct {
	w     io.Writer
	total int
	n     int
	last  time.Time
	start time.Time
	off   bool
}

func newProgress(w io.Writer, total int, off bool) *progress {
	p := &progress{w: w, total: total, start: time.Now(), off: off}
	p.draw()
	return p
}

func (p *progress) set(n int) {
	p.n = n
	if time.Since(p.last) >= 200*time.Millisecond {
		p.draw()
	}
}

func (p *progress) draw() {
	if p.off {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.n) / float64(p.total)
	}
	fill := int(frac * width)
	rate := ""
	if secs := time.Since(p.start).Seconds(); secs > 0.5 && p.n > 0 {
		rate = fmt.Sprintf(" %.0f/s", float64(p.n)/secs)
	}
	fmt.Fprintf(p.w, "\rmigrate [%s%s] %3.0f%% %d/%d records%s", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		frac*100, p.n, p.total, rate)
}

func (p *progress) done() {
	if p.off {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
}
