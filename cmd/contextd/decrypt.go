package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// runDecrypt is "contextd decrypt [--out FILE] FILE": the plaintext of an
// encrypted export or backup file (as written with ENCRYPTION_KEY set),
// decrypted with ENCRYPTION_KEY or one of ENCRYPTION_PREVIOUS_KEYS, to
// standard output or FILE; a plaintext file is copied as it is. For
// POST /v1/import, other tools, or a look inside a backup
// (`contextd decrypt data.ndjson.gz | gunzip`).
func runDecrypt(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("decrypt", stderr)
	out := fset.String("out", "-", "output file (- for standard output)")
	if len(args) > 1 && args[0] != "" && args[0][0] != '-' { // decrypt FILE --out F
		args = append(args[1:], args[0])
	}
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() != 1 {
		return usageError{"decrypt needs one FILE (an encrypted export or backup file; - for standard input)"}
	}
	var in io.Reader = os.Stdin
	if name := fset.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	r, err := cfg.keys().Open(in)
	if err != nil {
		return storeKeyError(fmt.Errorf("decrypt %s: %w", fset.Arg(0), err))
	}
	if *out == "-" {
		_, err = io.Copy(stdout, r)
		return err
	}
	// A temporary file renamed once whole: a damaged input leaves no
	// partial output behind.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".contextd-decrypt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, r); err != nil {
		return fmt.Errorf("decrypt %s: %w", fset.Arg(0), err)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), *out)
}
