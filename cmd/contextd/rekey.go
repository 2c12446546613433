package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/contextd/contextd/atrest"
	"github.com/contextd/contextd/backup"
	"github.com/contextd/contextd/sqlite"
)

// runRekey is "contextd rekey (--new-key-file FILE | --decrypt) [--keep-old]":
// with the server stopped (like restore, it refuses a DATA_DIR in use), the
// embedded store is rewritten under a new key: ENCRYPTION_KEY is the key it
// has now ("" for a plaintext store), the new one comes from the file
// --new-key-file or the variable ENCRYPTION_NEW_KEY, and --decrypt makes it
// plaintext. See sqlite.Rekey for the copy, check and atomic swap. It
// prints what it did as JSON, then the steps left to the operator.
func runRekey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("rekey", stderr)
	var (
		newKeyFile = fset.String("new-key-file", "", "file holding the new key (64 hex digits or base64 of 32 bytes); default: the variable ENCRYPTION_NEW_KEY")
		decrypt    = fset.Bool("decrypt", false, "make the store plaintext instead")
		keepOld    = fset.Bool("keep-old", false, "keep the old database file beside the new one (contextd.db.before-rekey-TIME) instead of removing it")
	)
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), `Usage: contextd rekey (--new-key-file FILE | --decrypt) [--keep-old]

Re-encrypts the embedded store in DATA_DIR, with the server stopped:
  ENCRYPTION_KEY (or _FILE)  the store's key now; empty for a plaintext store
  --new-key-file FILE        the new key (or the variable ENCRYPTION_NEW_KEY);
                             encrypts a plaintext store, or changes the key
  --decrypt                  makes the store plaintext

The store is copied (VACUUM INTO) to a new file under the new key, the copy
is checked (integrity_check, rows of every table), then renamed over the old
file. Afterwards set ENCRYPTION_KEY to the new key and add the old one to
ENCRYPTION_PREVIOUS_KEYS, so that backups and exports made before stay
readable. Neo4j is not encrypted by contextd (use Neo4j's or the disk's).

Flags:
`)
		fset.PrintDefaults()
	}
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("rekey takes no arguments (got %q)", fset.Arg(0))}
	}
	if cfg.Store != "sqlite" {
		return usageError{"rekey re-encrypts the embedded store (STORE=sqlite); Neo4j's files are encrypted by Neo4j or the disk"}
	}
	var newKey []byte
	switch {
	case *decrypt && (*newKeyFile != "" || getenv("ENCRYPTION_NEW_KEY") != ""):
		return usageError{"rekey: --decrypt and a new key (--new-key-file, ENCRYPTION_NEW_KEY) exclude each other"}
	case *decrypt:
	case *newKeyFile != "":
		b, err := os.ReadFile(*newKeyFile)
		if err != nil {
			return usageError{fmt.Sprintf("--new-key-file: %v", err)}
		}
		if newKey, err = atrest.ParseKey(string(b)); err != nil {
			return usageError{"--new-key-file: " + err.Error()}
		}
	case getenv("ENCRYPTION_NEW_KEY") != "":
		if newKey, err = atrest.ParseKey(getenv("ENCRYPTION_NEW_KEY")); err != nil {
			return &configError{"ENCRYPTION_NEW_KEY", err.Error()}
		}
	default:
		return usageError{"rekey needs the new key (--new-key-file FILE or ENCRYPTION_NEW_KEY), or --decrypt"}
	}
	keys := cfg.keys()
	if !keys.Enabled() && newKey == nil {
		return usageError{"rekey --decrypt: ENCRYPTION_KEY is not set, so the store is plaintext already"}
	}
	if keys.Enabled() && newKey != nil && string(keys.Current) == string(newKey) {
		return usageError{"rekey: the new key is ENCRYPTION_KEY itself"}
	}
	release, err := backup.LockDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer release()
	res, err := sqlite.Rekey(ctx, cfg.DataDir, keys.StoreKey(), atrest.StoreKey(newKey), *keepOld)
	if err != nil {
		return storeKeyError(err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return err
	}
	var next []string
	switch {
	case newKey == nil:
		next = append(next, "unset ENCRYPTION_KEY (keep it in ENCRYPTION_PREVIOUS_KEYS while encrypted backups and exports are kept)")
	case keys.Enabled():
		next = append(next, "set ENCRYPTION_KEY to the new key", "add the old key to ENCRYPTION_PREVIOUS_KEYS (backups and exports made before are encrypted with it)")
	default:
		next = append(next, "set ENCRYPTION_KEY to the new key",
			"backups and exports made before are plaintext: delete or move them if they must not stay on this disk")
	}
	if res.Kept != "" {
		next = append(next, "delete "+res.Kept+" once the server runs (it holds the store under the old key"+map[bool]string{true: "", false: ", in PLAINTEXT"}[keys.Enabled()]+")")
	}
	fmt.Fprintln(stderr, "rekey done; before starting the server:\n  - "+strings.Join(next, "\n  - "))
	return nil
}
