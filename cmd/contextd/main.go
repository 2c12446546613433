// Command contextd is the Persistent Context Store server and its tools.
//
//	contextd [serve]      start the HTTP server (the default)
//	contextd keys ...     create, list and revoke API keys on the store directly
//	contextd version      print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/contextd/contextd"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; else
// it comes from the module's build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			msg := err.Error()
			if code := contextd.ErrorCode(err); code != contextd.EINTERNAL {
				msg = code + ": " + contextd.ErrorMessage(err)
			}
			fmt.Fprintln(os.Stderr, "contextd:", msg)
		}
		var ue usageError
		if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `contextd — the Persistent Context Store

Usage:
  contextd [serve] [flags]                 start the HTTP server (default)
  contextd keys create --tenant T --role R [--name N] [--user U] [--expires 720h|30d]
  contextd keys list [--tenant T] [--json]
  contextd keys revoke ID [--tenant T]
  contextd mcp [--tenant T] [--url URL --api-key KEY]
                                           MCP over stdio, on the local store or a remote server
  contextd import [--format contextd|mcp-memory] [--tenant T] FILE
                                           load a contextd export idempotently, or bring over a
                                           reference MCP memory server's memory.jsonl
  contextd export [--tenant T] [--out FILE] [--format ndjson|graphml|cypher] [--plaintext]
                                           a consistent export (every tenant by default),
                                           encrypted when ENCRYPTION_KEY is set
  contextd backup [--dir DIR]             make a backup in BACKUP_DIRECTORY; prints its path
  contextd backup verify PATH | list | prune
  contextd restore PATH [--to-time RFC3339]
                                           replace the store (stopped) by a backup, or by the
                                           state at a moment (point-in-time recovery)
  contextd rekey (--new-key-file FILE | --decrypt) [--keep-old]
                                           re-encrypt the store (stopped) under a new key,
                                           encrypt a plaintext one, or decrypt it
  contextd decrypt [--out FILE] FILE      the plaintext of an encrypted export or backup file
  contextd check [--full] [--json]        check that the full-text indexes agree with the rows
  contextd reindex                        rebuild the top-k search index, count the tenants' text statistics again; embed every context and memory whose vector is missing or of another model
  contextd eval locomo PATH               LoCoMo turn recall of fulltext, semantic and hybrid search
  contextd version

Run "contextd <command> --help" for the flags of a command. Every command
also reads the configuration (config/<APP_ENV>.json, --config, environment).
`

// run is the whole program: it parses args, reads the configuration through
// getenv and writes to stdout and stderr. It returns when ctx is cancelled
// (serve) or the command is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "" || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, getenv, stdout, stderr)
	case "keys":
		return runKeys(ctx, args, getenv, stdout, stderr)
	case "mcp":
		return runMCP(ctx, args, getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, getenv, stdout, stderr)
	case "import":
		return runImportMCP(ctx, args, getenv, stdout, stderr)
	case "export":
		return runExport(ctx, args, getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, args, getenv, stdout, stderr)
	case "rekey":
		return runRekey(ctx, args, getenv, stdout, stderr)
	case "decrypt":
		return runDecrypt(ctx, args, getenv, stdout, stderr)
	case "restore":
		return runRestore(ctx, args, getenv, stdout, stderr)
	case "check":
		return runCheck(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args, getenv, stdout, stderr)
	case "eval":
		return runEval(ctx, args, getenv, stdout, stderr)
	case "reindex":
		return runReindex(ctx, args, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "contextd", buildVersion())
		return nil
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("contextd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
