package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/embed"
)

const checkUsage = `Usage: contextd check [--full] [--json]

Checks that the configured store agrees with itself:
  - full-text indexes: every row indexed, no indexed row left without its
    row, the indexes internally consistent;
  - tenant text statistics (embedded store): each tenant's recorded number
    of contexts and tokens, which its BM25 scores use, equals its index's
    (contextd reindex counts them again);
  - change log: no seq missing from the oldest retained change to the last
    one given, and the newest 1000 changes in time order and matching their
    objects (a live object's newest change holds its version and time; an
    object whose newest change is not a delete has its row);
  - vectors (with EMBEDDINGS_PROVIDER set): every context and memory
    created with an embedder has a vector of the configured model, of its
    dimensions, and no vector lacks its row. Vectors of another model, and
    rows from before semantic search was on or restored without a vector,
    are reported with a hint to run contextd reindex; they do not fail.
These checks only read, so they are safe beside a running server.

--full also re-tokenizes every row and compares it with the index, reads
every page of the database, and compares the whole change log with every
row (one index lookup per row and per logged object). The full-text part
takes each index's write lock in turn: the writes of a running server wait
meanwhile (about 15 µs per row and index), so prefer a quiet moment on a
large store.

The exit status is 0 when every check passes, 1 when one fails (the report
says which) or the check cannot run.

Flags:
`

// runCheck is "contextd check": the integrity of the configured store.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("check", stderr)
	full := fset.Bool("full", false, "also compare every indexed word with the rows and read every page (writes wait meanwhile)")
	asJSON := fset.Bool("json", false, "print the report as JSON")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), checkUsage)
		fset.PrintDefaults()
	}
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("check takes no arguments (got %q)", fset.Arg(0))}
	}
	store, err := openStore(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer store.Close()
	checker, ok := contextd.StoreAs[contextd.Checker](store)
	if !ok {
		return contextd.Errorf(contextd.EINVALID, "the %s store cannot check its integrity", store.Kind())
	}
	e, err := embed.New(embedderConfig(cfg))
	if err != nil {
		return err
	}
	opts := vectorCheckOptions(e)
	opts.Full = *full
	rep, err := checker.Check(ctx, opts)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, store.Kind(), rep)
	}
	if !rep.OK {
		failed := 0
		for _, it := range rep.Items {
			if !it.OK {
				failed++
			}
		}
		return fmt.Errorf("integrity check failed: %d of %d checks", failed, len(rep.Items))
	}
	return nil
}

func printReport(w io.Writer, kind string, rep *contextd.CheckReport) {
	mode := "read-only checks"
	if rep.Full {
		mode = "full checks"
	}
	fmt.Fprintf(w, "contextd check: %s store, %s\n\n", kind, mode)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, it := range rep.Items {
		state := "ok"
		if !it.OK {
			state = "FAIL"
		}
		detail := it.Detail
		if detail == "" && (it.Rows > 0 || it.Indexed > 0) {
			detail = fmt.Sprintf("%d rows, %d indexed", it.Rows, it.Indexed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", state, it.Name, detail)
	}
	tw.Flush()
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	verdict := "ok"
	if !rep.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "\nintegrity: %s (%d checks in %.0f ms)\n", verdict, len(rep.Items), rep.DurationMs)
}

// vectorCheckOptions are the check options that make a store check its
// vectors against e's model (none when e is nil: semantic search is off).
func vectorCheckOptions(e contextd.Embedder) contextd.CheckOptions {
	if e == nil {
		return contextd.CheckOptions{}
	}
	return contextd.CheckOptions{VectorModel: e.Model(), VectorDims: e.Dimensions()}
}
