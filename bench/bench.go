// Package bench is contextd's load generator, the "contextd bench" command:
// it fills a running server with realistic contexts through the batch route,
// then drives scenarios (create, get, update, list, search, memory-write,
// memory-search, graph, mixed, health) with a number of concurrent workers
// for a duration or a count, and reports per operation the throughput and
// the latency quantiles, with the server's resident memory and store size.
//
// It is meant for a server on the same machine: it refuses non-loopback
// URLs unless told otherwise.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

const usage = `Usage: contextd bench [flags]

Load a running contextd server and report throughput and latency per operation.

  contextd bench --url http://127.0.0.1:3000 --api-key KEY --fill 100000 --scenario search --duration 10s

Scenarios (--scenario, a comma-separated list run in order, or "all": every one
but semantic and hybrid, which run only when named; search@4 runs search at
concurrency 4 whatever --concurrency says):
  create         POST /v1/contexts, ~1 KB of text each (durable single writes)
  get            GET /v1/contexts/{id} of existing contexts
  update         PATCH /v1/contexts/{id}: new title and content
  list           GET /v1/contexts?limit=20, a third with a tag or type filter
  search         POST /v1/search, 2-4 mid-frequency words, top 10
  memory-write   POST /v1/memories
  memory-search  POST /v1/memories/search, 2-4 words, top 10
  graph          GET /v1/contexts/{id}/graph?depth=2&direction=both
  semantic       POST /v1/search mode semantic, 2-4 words, top 10, half filtered
                 (type, tag, or type + metadata); needs the server's embedder
  hybrid         the same in mode hybrid (BM25 and vectors fused)
  mixed          60% reads (get, list, graph), 25% searches, 15% writes
  health         GET /health

With --tenants N and the server's JWT_SECRET, --fill is dealt out over N
tenants and search, create and health go to a random tenant each: a search's
cost should follow its tenant's size, not the store's.

The scenarios that need data find it: the contexts of --fill, else up to --pool
existing ones (or 1,000 made for the run); graph links some when none are
linked; memory-search adds memories up to 2,000 when there are fewer.

Flags:
`

// settings are the parsed flags.
type settings struct {
	url             string
	apiKey          string
	scenarios       []string // as given, for the report
	runs            []scenarioRun
	concurrency     []int
	duration        time.Duration
	count           int64
	warmup          time.Duration
	fill            int
	fillMemories    int
	fillConcurrency int
	fillLinks       int
	batch           int
	seed            uint64
	jsonPath        string
	timeout         time.Duration
	allowRemote     bool
	dataDir         string
	poolSize        int
	cpuProfile      string
	waitQuiet       time.Duration
	tenants         int    // spread the load over this many tenants (tenants.go)
	jwtSecret       string // signs their tokens
}

// scenarioRun is one entry of --scenario: a scenario and its concurrencies.
type scenarioRun struct {
	name        string
	concurrency []int
}

// Report is the whole result, as written by --json.
type Report struct {
	Version   int           `json:"version"` // of this format: 1
	URL       string        `json:"url"`
	StartedAt time.Time     `json:"startedAt"`
	Client    clientInfo    `json:"client"`
	Settings  settingsOut   `json:"settings"`
	Fills     []fillResult  `json:"fills"`
	Phases    []phaseReport `json:"phases"`
}

type clientInfo struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
}

type settingsOut struct {
	Scenarios       []string `json:"scenarios"`
	Concurrency     []int    `json:"concurrency"`
	DurationSeconds float64  `json:"durationSeconds"`
	Count           int64    `json:"count,omitempty"`
	WarmupSeconds   float64  `json:"warmupSeconds"`
	Fill            int      `json:"fill"`
	FillMemories    int      `json:"fillMemories,omitempty"`
	FillConcurrency int      `json:"fillConcurrency"`
	FillLinks       int      `json:"fillLinks"`
	Batch           int      `json:"batch"`
	Seed            uint64   `json:"seed"`
}

// phaseReport is one scenario at one concurrency.
type phaseReport struct {
	Scenario    string      `json:"scenario"`
	Concurrency int         `json:"concurrency"`
	Seconds     float64     `json:"seconds"`
	Operations  []opReport  `json:"operations"`
	Server      serverStats `json:"server"`
	CPU         *cpuUsage   `json:"cpu,omitempty"` // where the machine's CPU went during the phase
}

// Run is "contextd bench": it parses args, reads CONTEXTD_URL and
// CONTEXTD_API_KEY from the environment, prints the report on stdout and
// progress on stderr. It returns an error when a request failed.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return RunEnv(ctx, args, os.Getenv, stdout, stderr)
}

// RunEnv is Run with the environment read through getenv.
func RunEnv(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	u, _ := url.Parse(s.url)
	if err := checkTarget(ctx, u, s.allowRemote); err != nil {
		return err
	}
	if s.cpuProfile != "" {
		f, err := os.Create(s.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	conns := max(slices.Max(s.concurrency), s.fillConcurrency) + 2
	c := newClient(s.url, s.apiKey, conns, s.timeout)
	defer c.close()
	if s.tenants > 0 {
		var err error
		if c.tokens, err = tenantTokens(s.jwtSecret, s.tenants, time.Now()); err != nil {
			return err
		}
	}
	if _, err := c.do(ctx, http.MethodGet, "/health", nil, nil); err != nil {
		return fmt.Errorf("the server at %s does not answer: %w", s.url, err)
	}

	rep := &Report{Version: 1, URL: s.url, StartedAt: time.Now().UTC(),
		Client: clientInfo{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
		Settings: settingsOut{Scenarios: s.scenarios, Concurrency: s.concurrency, DurationSeconds: s.duration.Seconds(),
			Count: s.count, WarmupSeconds: s.warmup.Seconds(), Fill: s.fill, FillMemories: s.fillMemories,
			FillConcurrency: s.fillConcurrency, FillLinks: s.fillLinks, Batch: s.batch, Seed: s.seed}}
	v := newVocabulary(vocabularySeed, vocabularySize)
	failed := int64(0)
	fill := func(label string, n int, memories bool) (*filler, error) {
		f := &filler{c: c, v: v, concurrency: s.fillConcurrency, batch: s.batch, seed: s.seed + uint64(len(rep.Fills)),
			progress: stderr, label: label, links: s.fillLinks}
		var res fillResult
		var err error
		c.waitQuiet(ctx, s.waitQuiet, stderr)
		before := c.sampleCPU(ctx)
		if memories {
			res, err = f.memories(ctx, n)
		} else {
			res, err = f.contexts(ctx, n)
		}
		res.CPU = cpuBetween(before, c.sampleCPU(ctx))
		rep.Fills = append(rep.Fills, res)
		failed += res.Batch.errorCount()
		fmt.Fprintf(stdout, "fill: %d %s in %.1fs: %.0f %s/s through the batch route (%d per request, %d at a time)\n",
			res.Items, res.Kind, res.Seconds, res.ItemsPerSec, res.Kind, s.batch, s.fillConcurrency)
		printOps(stdout, []opReport{res.Batch})
		printCPU(stdout, res.CPU)
		return f, err
	}

	pl := &pool{}
	if s.fill > 0 {
		f, err := fill("fill contexts", s.fill, false)
		if err != nil {
			return finish(s, rep, stdout, err)
		}
		pl.ids, pl.roots = f.ids, f.roots
	}
	if s.fillMemories > 0 {
		if _, err := fill("fill memories", s.fillMemories, true); err != nil {
			return finish(s, rep, stdout, err)
		}
	}
	if s.fill > 0 || s.fillMemories > 0 {
		st := c.fetchServerStats(ctx, s.dataDir)
		printServer(stdout, st)
	}

	for _, run := range s.runs {
		sc := run.name
		if err := prepare(ctx, c, sc, pl, s, stderr, func(n int) error {
			_, err := fill("add memories", n, true)
			return err
		}); err != nil {
			return finish(s, rep, stdout, fmt.Errorf("preparing %s: %w", sc, err))
		}
		for _, conc := range run.concurrency {
			c.waitQuiet(ctx, s.waitQuiet, stderr)
			if s.warmup > 0 {
				fmt.Fprintf(stderr, "%s: warming up for %s at concurrency %d\n", sc, s.warmup, conc)
				runPhase(ctx, c, v, pl, phase{scenario: sc, concurrency: conc, duration: s.warmup, seed: s.seed + 1<<32})
			}
			fmt.Fprintf(stderr, "%s: measuring for %s at concurrency %d\n", sc, describeLimit(s), conc)
			before := c.sampleCPU(ctx)
			res := runPhase(ctx, c, v, pl, phase{scenario: sc, concurrency: conc, duration: s.duration, count: s.count, seed: s.seed})
			if ctx.Err() != nil {
				return finish(s, rep, stdout, ctx.Err())
			}
			pr := phaseReport{Scenario: sc, Concurrency: conc, Seconds: res.elapsed.Seconds(), Operations: res.reports(),
				CPU: cpuBetween(before, c.sampleCPU(ctx))}
			pr.Server = c.fetchServerStats(ctx, s.dataDir)
			rep.Phases = append(rep.Phases, pr)
			fmt.Fprintf(stdout, "\nscenario %s, concurrency %d, %.2fs\n", sc, conc, pr.Seconds)
			printOps(stdout, pr.Operations)
			printServer(stdout, pr.Server)
			printCPU(stdout, pr.CPU)
			for _, o := range pr.Operations {
				if o.Op != "total" {
					failed += o.errorCount()
				}
			}
		}
	}
	if failed > 0 {
		return finish(s, rep, stdout, fmt.Errorf("%d requests failed (see the errors column)", failed))
	}
	return finish(s, rep, stdout, nil)
}

// finish writes the JSON report, when asked for, and returns err.
func finish(s *settings, rep *Report, stdout io.Writer, err error) error {
	if s.jsonPath == "" {
		return err
	}
	b, jerr := json.MarshalIndent(rep, "", "  ")
	if jerr == nil {
		jerr = os.WriteFile(s.jsonPath, append(b, '\n'), 0o644)
	}
	if jerr != nil {
		return errors.Join(err, fmt.Errorf("writing --json: %w", jerr))
	}
	fmt.Fprintf(stdout, "\nreport written to %s\n", s.jsonPath)
	return err
}

func describeLimit(s *settings) string {
	if s.count > 0 {
		return fmt.Sprintf("%d requests (at most %s)", s.count, s.duration)
	}
	return s.duration.String()
}

// minMemories is the number of memories memory-search wants to rank.
const minMemories = 2000

// prepare makes sure the data scenario sc needs is there.
func prepare(ctx context.Context, c *client, sc string, pl *pool, s *settings, stderr io.Writer, addMemories func(int) error) error {
	wantContexts, wantGraph, wantMemories := needs(sc)
	if wantContexts && len(pl.ids) == 0 {
		found, err := discover(ctx, c, s.poolSize)
		if err != nil {
			return err
		}
		*pl = *found
		if len(pl.ids) == 0 {
			fmt.Fprintln(stderr, "no contexts on the server: adding 1,000 for the run")
			f := &filler{c: c, v: newVocabulary(vocabularySeed, vocabularySize), concurrency: s.fillConcurrency,
				batch: s.batch, seed: s.seed + 99, progress: stderr, label: "seed contexts", links: s.fillLinks}
			if _, err := f.contexts(ctx, 1000); err != nil {
				return err
			}
			pl.ids, pl.roots = f.ids, f.roots
		}
		fmt.Fprintf(stderr, "%d contexts to read, %d with relationships\n", len(pl.ids), len(pl.roots))
	}
	pl.makeGetPaths()
	if wantGraph && len(pl.roots) < 50 {
		want := min(200, len(pl.ids)/2)
		if len(pl.roots) < want {
			fmt.Fprintf(stderr, "linking contexts so that %d have relationships\n", want)
			if err := link(ctx, c, pl, want, s.seed); err != nil {
				return err
			}
		}
		if len(pl.roots) == 0 {
			return errors.New("no context has relationships")
		}
	}
	if wantMemories {
		st := c.fetchServerStats(ctx, "")
		if st.Memories < minMemories {
			n := minMemories - int(st.Memories)
			fmt.Fprintf(stderr, "%d memories on the server: adding %d\n", st.Memories, n)
			return addMemories(n)
		}
	}
	return nil
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*settings, error) {
	fs := flag.NewFlagSet("contextd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	s := &settings{}
	defURL := getenv("CONTEXTD_URL")
	if defURL == "" {
		defURL = "http://127.0.0.1:3000"
	}
	var scenarios, concurrency string
	fs.StringVar(&s.url, "url", defURL, "the server's base URL (default $CONTEXTD_URL)")
	fs.StringVar(&s.apiKey, "api-key", "", "a writer or admin API key of the tenant to load (default $CONTEXTD_API_KEY); an admin key also reads /health/details")
	fs.StringVar(&scenarios, "scenario", "", "scenarios to run in order, comma-separated, or \"all\"; name@N runs that one at concurrency N (default mixed, or none with --fill)")
	fs.StringVar(&concurrency, "concurrency", "8", "concurrent requests; a comma-separated list runs each scenario at each")
	fs.DurationVar(&s.duration, "duration", 10*time.Second, "how long to measure each scenario (with --count, the most it may take: default 10m)")
	fs.Int64Var(&s.count, "count", 0, "measure this many requests per scenario instead of a duration")
	fs.DurationVar(&s.warmup, "warmup", 2*time.Second, "unmeasured run of each scenario before measuring it")
	fs.IntVar(&s.fill, "fill", 0, "first load this many contexts of realistic text through POST /v1/contexts/batch")
	fs.IntVar(&s.fillMemories, "fill-memories", 0, "first load this many memories through POST /v1/memories/batch")
	fs.IntVar(&s.fillConcurrency, "fill-concurrency", 2, "batch requests in flight while filling")
	fs.IntVar(&s.fillLinks, "fill-links", defaultLinks, "percent of filled contexts given relationships to earlier ones (for the graph scenario)")
	fs.IntVar(&s.batch, "batch", 1000, "items per batch request while filling (1..1000)")
	fs.Uint64Var(&s.seed, "seed", 1, "seed of the random choices (the word vocabulary is the same for every seed)")
	fs.StringVar(&s.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.DurationVar(&s.timeout, "timeout", 30*time.Second, "timeout of one request")
	fs.BoolVar(&s.allowRemote, "allow-remote", false, "allow a URL that is not a loopback address")
	fs.StringVar(&s.dataDir, "data-dir", "", "the server's DATA_DIR, to report the store's size on disk when the server does not")
	fs.DurationVar(&s.waitQuiet, "wait-quiet", 0, "before each phase, wait up to this long for other processes to use under 0.25 cores (a shared machine)")
	fs.StringVar(&s.cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator itself to this file")
	fs.IntVar(&s.poolSize, "pool", 20000, "without --fill, read up to this many existing contexts' ids to pick from")
	fs.IntVar(&s.tenants, "tenants", 0, "spread --fill and the search, create and health scenarios over this many tenants (bench-0001...), each with a writer JWT signed with --jwt-secret")
	fs.StringVar(&s.jwtSecret, "jwt-secret", "", "the server's JWT_SECRET, for --tenants (default $JWT_SECRET)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("bench takes no arguments (got %q)", fs.Arg(0))
	}
	if s.apiKey == "" {
		s.apiKey = getenv("CONTEXTD_API_KEY") // not a flag default: --help would print it
	}
	if s.jwtSecret == "" {
		s.jwtSecret = getenv("JWT_SECRET")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if scenarios == "" && s.fill == 0 && s.fillMemories == 0 {
		scenarios = "mixed" // --fill alone only fills
	}
	if s.count > 0 && !set["duration"] {
		s.duration = 10 * time.Minute
	}

	if _, err := url.Parse(s.url); err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	for _, f := range strings.Split(concurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10000 {
			return nil, fmt.Errorf("--concurrency: %q is not a number of 1..10000", f)
		}
		s.concurrency = append(s.concurrency, n)
	}
	for _, entry := range strings.Split(scenarios, ",") {
		entry = strings.TrimSpace(entry)
		name, at, hasAt := strings.Cut(entry, "@")
		conc := s.concurrency
		if hasAt {
			n, err := strconv.Atoi(at)
			if err != nil || n < 1 || n > 10000 {
				return nil, fmt.Errorf("--scenario %q: the concurrency after @ is not a number of 1..10000", entry)
			}
			conc = []int{n}
		}
		switch {
		case entry == "":
		case name == "all":
			for _, n := range scenarioNames {
				s.runs = append(s.runs, scenarioRun{n, conc})
				s.scenarios = append(s.scenarios, n)
			}
		case slices.Contains(scenarioNames, name) || slices.Contains(vectorScenarios, name):
			s.runs = append(s.runs, scenarioRun{name, conc})
			s.scenarios = append(s.scenarios, entry)
		default:
			return nil, fmt.Errorf("--scenario: unknown scenario %q (want one of %s, or all)", name, strings.Join(append(slices.Clone(scenarioNames), vectorScenarios...), ", "))
		}
	}
	switch {
	case s.apiKey == "":
		return nil, errors.New("--api-key (or CONTEXTD_API_KEY) is required")
	case s.duration <= 0:
		return nil, errors.New("--duration must be positive")
	case s.count < 0:
		return nil, errors.New("--count must not be negative")
	case s.warmup < 0:
		return nil, errors.New("--warmup must not be negative")
	case s.fill < 0 || s.fillMemories < 0:
		return nil, errors.New("--fill and --fill-memories must not be negative")
	case s.fillConcurrency < 1 || s.fillConcurrency > 64:
		return nil, errors.New("--fill-concurrency must be 1..64")
	case s.fillLinks < 0 || s.fillLinks > 100:
		return nil, errors.New("--fill-links must be 0..100")
	case s.batch < 1 || s.batch > 1000:
		return nil, errors.New("--batch must be 1..1000")
	case s.timeout <= 0:
		return nil, errors.New("--timeout must be positive")
	case s.poolSize < 1:
		return nil, errors.New("--pool must be positive")
	case len(s.runs) == 0 && s.fill == 0 && s.fillMemories == 0:
		return nil, errors.New("nothing to do: give --scenario or --fill")
	case s.tenants < 0 || s.tenants > 100000:
		return nil, errors.New("--tenants must be 0..100000")
	case s.tenants > 0 && s.jwtSecret == "":
		return nil, errors.New("--tenants needs --jwt-secret (or JWT_SECRET): the server's secret signs each tenant's token")
	case s.tenants > 0 && s.fillMemories > 0:
		return nil, errors.New("--tenants does not fill memories")
	}
	if s.tenants > 0 {
		s.fillLinks = 0 // a relationship must stay within its tenant
		for _, r := range s.runs {
			if !multiTenantScenarios[r.name] {
				return nil, fmt.Errorf("--tenants: scenario %q reads existing ids; a multi-tenant run supports search, create and health", r.name)
			}
		}
	}
	return s, nil
}

// printOps writes the report lines as a table.
func printOps(w io.Writer, ops []opReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tok\terrors\tops/s\tmean ms\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	for _, o := range ops {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n",
			o.Op, o.Count, o.errorSummary(), o.OpsPerSec, o.MeanMs, o.P50Ms, o.P95Ms, o.P99Ms, o.MaxMs)
	}
	tw.Flush()
	for _, o := range ops {
		if o.ErrorText != "" {
			fmt.Fprintf(w, "  first %s error: %s\n", o.Op, o.ErrorText)
		}
	}
}

// printServer writes the server's resources on one line.
func printServer(w io.Writer, st serverStats) {
	parts := []string{"server: rss " + mib(st.ResidentBytes)}
	if st.GoSysBytes > 0 {
		parts = append(parts, "go sys "+mib(st.GoSysBytes))
	}
	if st.StoreBytes > 0 {
		parts = append(parts, fmt.Sprintf("store %s (%s)", mib(st.StoreBytes), st.StoreSource))
	} else {
		parts = append(parts, "store size unknown (pass --data-dir)")
	}
	if st.IndexBytes > 0 {
		parts = append(parts, "full-text index "+mib(st.IndexBytes))
	}
	parts = append(parts, fmt.Sprintf("%d contexts, %d memories in the tenant", st.Contexts, st.Memories))
	fmt.Fprintln(w, strings.Join(parts, ", "))
	for _, n := range st.Notes {
		fmt.Fprintln(w, "  note:", n)
	}
}

// printCPU writes where the CPU went, when known.
func printCPU(w io.Writer, u *cpuUsage) {
	if u == nil {
		return
	}
	fmt.Fprintf(w, "cpu, busy cores of %d: server %.2f, bench %.2f, other processes %.2f, idle %.2f (iowait %.2f)",
		u.Cores, u.Server, u.Bench, u.Others, u.Idle, u.IOWait)
	if u.Steal > 0 {
		fmt.Fprintf(w, ", stolen %.2f", u.Steal)
	}
	fmt.Fprintln(w)
}

func mib(n int64) string {
	if n <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
