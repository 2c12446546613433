package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/httpapi"
	"github.com/contextd/contextd/sqlite"
)

// evalKs are the cut-offs of turn recall.
var evalKs = []int{5, 10, 25, 50}

// evalModes are the search modes compared.
var evalModes = []string{contextd.ModeFulltext, contextd.ModeSemantic, contextd.ModeHybrid}

// runEval is `contextd eval locomo PATH`: LoCoMo turn recall of the three
// search modes, through the HTTP API of an in-process server over a fresh
// SQLite store, one tenant per conversation, one memory per turn.
func runEval(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("eval", stderr)
	modes := fset.String("modes", strings.Join(evalModes, ","), "comma list of the modes to run")
	def := contextd.DefaultHybridTuning()
	fusion := fset.String("fusion", def.Fusion, "hybrid fusion: rrf or convex")
	bw := fset.Float64("bm25-weight", def.BM25Weight, "hybrid: weight of the BM25 list")
	vw := fset.Float64("vector-weight", def.VectorWeight, "hybrid: weight of the vector list")
	rrfK := fset.Float64("rrf-k", def.RRFK, "hybrid: the k of reciprocal rank fusion")
	nw := fset.Float64("neighbour-weight", def.NeighbourWeight, "hybrid memory search: share of relevance passed to session neighbours (0: off)")
	nd := fset.Float64("neighbour-decay", def.NeighbourDecay, "hybrid memory search: damping of the share per further step")
	nwin := fset.Int("neighbour-window", def.NeighbourWindow, "hybrid memory search: neighbours each side that receive a share")
	nseeds := fset.Int("neighbour-seeds", def.NeighbourSeeds, "hybrid memory search: how many of the best results pass shares on")
	as := fset.String("as", "memories", "store each turn as one of: memories (POST /v1/memories/batch, searched by /v1/memories/search) or contexts (POST /v1/contexts/batch, each turn FOLLOWS the one before it in its session, searched by /v1/search)")
	only := fset.String("conversations", "", "comma list of the conversation numbers (from 0) to run; default all")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 2 || fset.Arg(0) != "locomo" {
		return usageError{"usage: contextd eval locomo PATH (the folder of locomo10.json and audit-errors.json, or locomo10.json itself)"}
	}
	tuning := def
	tuning.Fusion, tuning.BM25Weight, tuning.VectorWeight, tuning.RRFK = *fusion, *bw, *vw, *rrfK
	tuning.NeighbourWeight, tuning.NeighbourDecay, tuning.NeighbourWindow, tuning.NeighbourSeeds = *nw, *nd, *nwin, *nseeds
	if tuning.Fusion != contextd.FusionConvex && tuning.Fusion != contextd.FusionRRF {
		return usageError{fmt.Sprintf("-fusion %q: must be convex or rrf", tuning.Fusion)}
	}
	evalModes = strings.Split(*modes, ",")
	path := fset.Arg(1)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "locomo10.json")
	}
	convs, err := readLocomo(path)
	if err != nil {
		return err
	}
	if *as != "memories" && *as != "contexts" {
		return usageError{fmt.Sprintf("-as: %q is neither memories nor contexts", *as)}
	}
	pick := map[int]bool{}
	for _, f := range strings.FieldsFunc(*only, func(r rune) bool { return r == ',' }) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n >= len(convs) {
			return usageError{fmt.Sprintf("-conversations: %q is not a conversation number of 0..%d", f, len(convs)-1)}
		}
		pick[n] = true
	}
	audit, err := readAudit(filepath.Join(filepath.Dir(path), "audit-errors.json"))
	if err != nil {
		return err
	}

	cfg := defaultConfig()
	cfg.EmbeddingsProvider, cfg.EmbeddingsURL, cfg.EmbeddingsModel = getenv("EMBEDDINGS_PROVIDER"), getenv("EMBEDDINGS_URL"), getenv("EMBEDDINGS_MODEL")
	cfg.LLMAPIKey = getenv("LLM_API_KEY")
	if err := validateEmbeddings(&cfg); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "contextd-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := sqlite.Open(ctx, dir, sqlite.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := newService(store, &cfg, nil)
	if err == nil {
		svc.Hybrid = tuning
	}
	if err != nil {
		return err
	}
	if svc.Embedder == nil {
		return usageError{"eval compares semantic and hybrid search: EMBEDDINGS_PROVIDER must not be off"}
	}
	h, err := httpapi.NewHandler(httpapi.Config{Service: svc, Logger: logger, RequestTimeout: -1})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	fmt.Fprintf(stderr, "embedder %s; %d conversations\n", svc.Embedder.Model(), len(convs))

	// scores[mode][evidence set][category][k] accumulate recall over questions.
	type acc struct {
		sum [4]float64
		n   int
	}
	scores := map[string]*[2]map[int]*acc{}
	for _, m := range evalModes {
		scores[m] = &[2]map[int]*acc{{}, {}}
	}
	add := func(mode string, set, cat int, rec [4]float64) {
		for _, c := range []int{0, cat} {
			a := scores[mode][set][c]
			if a == nil {
				a = &acc{}
				scores[mode][set][c] = a
			}
			for i := range rec {
				a.sum[i] += rec[i]
			}
			a.n++
		}
	}
	lat := map[string][]time.Duration{} // per mode, each search request's round trip
	start := time.Now()
	for ci, conv := range convs {
		if len(pick) > 0 && !pick[ci] {
			continue
		}
		tenant := "locomo-" + strconv.Itoa(ci)
		_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: tenant, Role: contextd.RoleWriter, Name: "eval"})
		if err != nil {
			return err
		}
		c := &evalClient{base: srv.URL, key: key, http: srv.Client()}
		t0 := time.Now()
		if err := storeTurns(ctx, c, conv.turns, *as); err != nil {
			return fmt.Errorf("conversation %d: storing turns: %w", ci, err)
		}
		fmt.Fprintf(stderr, "conversation %d: %d turns stored in %s; %d questions\n", ci, len(conv.turns), time.Since(t0).Round(time.Millisecond), len(conv.qa))
		for qi, q := range conv.qa {
			sets := [2][]string{q.evidence, q.evidence}
			if fixed, ok := audit[fmt.Sprintf("locomo_%d_qa%d", ci, qi)]; ok {
				sets[1] = fixed
			}
			for _, mode := range evalModes {
				body := map[string]any{"query": q.question, "mode": mode, "limit": evalKs[len(evalKs)-1]}
				t1 := time.Now()
				ids, err := searchTurns(ctx, c, body, *as)
				if err != nil {
					return fmt.Errorf("conversation %d question %d (%s): %w", ci, qi, mode, err)
				}
				lat[mode] = append(lat[mode], time.Since(t1))
				for set := range sets {
					if len(sets[set]) == 0 {
						continue
					}
					add(mode, set, q.category, turnRecall(ids, sets[set]))
				}
			}
		}
	}
	fmt.Fprintf(stderr, "done in %s\n", time.Since(start).Round(time.Millisecond))

	cats := map[int]string{0: "all", 1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
	fmt.Fprintf(stdout, "hybrid: fusion %s, bm25 weight %g, vector weight %g, rrf k %g; neighbours weight %g, decay %g, window %d, seeds %d\n",
		tuning.Fusion, tuning.BM25Weight, tuning.VectorWeight, tuning.RRFK,
		tuning.NeighbourWeight, tuning.NeighbourDecay, tuning.NeighbourWindow, tuning.NeighbourSeeds)
	fmt.Fprintf(stdout, "LoCoMo turn recall (turns as %s, %s), original evidence | corrected evidence (audit-errors.json)\n", *as, svc.Embedder.Model())
	fmt.Fprintf(stdout, "%-9s %-12s %5s | %-27s | %-27s\n", "mode", "category", "n", "@5     @10    @25    @50", "@5     @10    @25    @50")
	for _, mode := range evalModes {
		keys := make([]int, 0, len(scores[mode][0]))
		for c := range scores[mode][0] {
			keys = append(keys, c)
		}
		sort.Ints(keys)
		for _, cat := range keys {
			line := fmt.Sprintf("%-9s %-12s %5d |", mode, cats[cat], scores[mode][0][cat].n)
			for set := range 2 {
				a := scores[mode][set][cat]
				for i := range evalKs {
					line += fmt.Sprintf(" %.3f ", a.sum[i]/float64(a.n))
				}
				if set == 0 {
					line += "|"
				}
			}
			fmt.Fprintln(stdout, strings.TrimRight(line, " "))
		}
	}
	for _, mode := range evalModes {
		d := lat[mode]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		fmt.Fprintf(stdout, "%-9s search latency (HTTP round trip, in process): p50 %s, p95 %s, %d queries\n", mode,
			d[len(d)/2].Round(10*time.Microsecond), d[len(d)*95/100].Round(10*time.Microsecond), len(d))
	}
	return nil
}

// storeTurns stores a conversation's turns through the API, as memories or
// as contexts. Either way a turn keeps its session and its time; as
// contexts, each turn FOLLOWS the one before it in its session, as a client
// storing a conversation as linked contexts would.
func storeTurns(ctx context.Context, c *evalClient, turns []locomoTurn, as string) error {
	route := "/v1/memories/batch"
	if as == "contexts" {
		route = "/v1/contexts/batch"
	}
	for i := 0; i < len(turns); i += contextd.MaxBatchItems {
		batch := turns[i:min(len(turns), i+contextd.MaxBatchItems)]
		items := make([]map[string]any, len(batch))
		for j, t := range batch {
			meta := map[string]any{"diaId": t.diaID, "date": t.date}
			if as == "contexts" {
				items[j] = map[string]any{"id": t.id, "title": t.diaID, "content": t.text, "sessionId": t.session, "metadata": meta}
				if k := i + j; k > 0 && turns[k-1].session == t.session {
					items[j]["relationships"] = []map[string]any{{"type": contextd.RelFollows, "targetId": turns[k-1].id}}
				}
				continue
			}
			items[j] = map[string]any{"id": t.id, "type": "context", "content": t.text, "sessionId": t.session, "metadata": meta}
			if !t.at.IsZero() {
				items[j]["timestamp"] = t.at
			}
		}
		if err := c.post(ctx, route, map[string]any{"items": items}, nil); err != nil {
			return err
		}
	}
	return nil
}

// searchTurns runs one search and returns the ids of the turns found, best first.
func searchTurns(ctx context.Context, c *evalClient, body map[string]any, as string) ([]string, error) {
	var res struct {
		Results []struct {
			Memory  struct{ ID string } `json:"memory"`
			Context struct{ ID string } `json:"context"`
		} `json:"results"`
	}
	route := "/v1/memories/search"
	if as == "contexts" {
		route = "/v1/search"
	}
	if err := c.post(ctx, route, body, &res); err != nil {
		return nil, err
	}
	ids := make([]string, len(res.Results))
	for i, r := range res.Results {
		ids[i] = r.Memory.ID
		if as == "contexts" {
			ids[i] = r.Context.ID
		}
	}
	return ids, nil
}

// turnRecall is, for each cut-off, the share of evidence turns among the first k ids.
func turnRecall(ids []string, evidence []string) [4]float64 {
	var out [4]float64
	for i, k := range evalKs {
		top := map[string]bool{}
		for _, id := range ids[:min(k, len(ids))] {
			top[id] = true
		}
		found := 0
		for _, e := range evidence {
			if top[e] {
				found++
			}
		}
		out[i] = float64(found) / float64(len(evidence))
	}
	return out
}

type evalClient struct {
	base, key string
	http      *http.Client
}

func (c *evalClient) post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		if len(raw) > 500 {
			raw = append(raw[:500], "..."...)
		}
		return fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

type locomoTurn struct {
	id, diaID, session, date, text string
	at                             time.Time // the turn's timestamp; zero when the session date does not parse
}

// locomoDate is the layout of LoCoMo's session dates ("1:56 pm on 8 May, 2023").
const locomoDate = "3:04 pm on 2 January, 2006"

type locomoQA struct {
	question string
	evidence []string // memory ids
	category int
}

type locomoConv struct {
	turns []locomoTurn
	qa    []locomoQA
}

var sessionKeyRe = regexp.MustCompile(`^session_(\d+)$`)

// readLocomo reads locomo10.json: per conversation, one text per turn
// (`<speaker> said, "<text>"`, plus ` and shared <blip_caption>`) and the
// questions with their evidence as memory ids.
func readLocomo(path string) ([]locomoConv, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var data []struct {
		Conversation map[string]json.RawMessage `json:"conversation"`
		QA           []struct {
			Question string   `json:"question"`
			Evidence []string `json:"evidence"`
			Category int      `json:"category"`
		} `json:"qa"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]locomoConv, len(data))
	for ci, d := range data {
		var sessions []int
		for k := range d.Conversation {
			if m := sessionKeyRe.FindStringSubmatch(k); m != nil {
				n, _ := strconv.Atoi(m[1])
				sessions = append(sessions, n)
			}
		}
		sort.Ints(sessions)
		for _, n := range sessions {
			var date string
			_ = json.Unmarshal(d.Conversation["session_"+strconv.Itoa(n)+"_date_time"], &date)
			var turns []struct {
				Speaker     string `json:"speaker"`
				DiaID       string `json:"dia_id"`
				Text        string `json:"text"`
				BlipCaption string `json:"blip_caption"`
			}
			if err := json.Unmarshal(d.Conversation["session_"+strconv.Itoa(n)], &turns); err != nil {
				return nil, fmt.Errorf("%s: conversation %d session %d: %w", path, ci, n, err)
			}
			// A client storing a conversation gives each turn the time it
			// was said. LoCoMo has only the session's start, so the turns
			// of a session are one second apart from it, in order.
			start, _ := time.Parse(locomoDate, date)
			for ti, t := range turns {
				var at time.Time
				if !start.IsZero() {
					at = start.Add(time.Duration(ti) * time.Second)
				}
				text := t.Speaker + ` said, "` + t.Text + `"`
				if t.BlipCaption != "" {
					text += " and shared " + t.BlipCaption
				}
				ids := evidenceIDs(t.DiaID)
				if len(ids) != 1 {
					return nil, fmt.Errorf("%s: conversation %d: bad dia_id %q", path, ci, t.DiaID)
				}
				out[ci].turns = append(out[ci].turns, locomoTurn{id: ids[0], diaID: t.DiaID,
					session: "session-" + strconv.Itoa(n), date: date, text: text, at: at})
			}
		}
		for _, q := range d.QA {
			var ev []string
			for _, e := range q.Evidence {
				ev = append(ev, evidenceIDs(e)...)
			}
			out[ci].qa = append(out[ci].qa, locomoQA{question: q.Question, evidence: dedupe(ev), category: q.Category})
		}
	}
	return out, nil
}

// readAudit reads the corrected evidence of audit-errors.json by question id
// (only the corrections that change the evidence).
func readAudit(path string) (map[string][]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var items []struct {
		QuestionID      string   `json:"question_id"`
		CorrectEvidence []string `json:"correct_evidence"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string][]string{}
	for _, it := range items {
		if it.CorrectEvidence == nil {
			continue
		}
		var ev []string
		for _, e := range it.CorrectEvidence {
			ev = append(ev, evidenceIDs(e)...)
		}
		out[it.QuestionID] = dedupe(ev)
	}
	return out, nil
}

var diaRe = regexp.MustCompile(`^D(\d+):(\d+)$`)

// evidenceIDs turns "D1:3" (or a malformed "D8:6; D9:17", "D30:05") into
// memory ids "D1-3".
func evidenceIDs(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
		m := diaRe.FindStringSubmatch(f)
		if m == nil {
			continue
		}
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		out = append(out, "D"+strconv.Itoa(a)+"-"+strconv.Itoa(b))
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
