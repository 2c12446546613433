package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/contextd/contextd"
	"github.com/contextd/contextd/backup"
	"github.com/contextd/contextd/sqlite"
)

// runBackup is "contextd backup [--dir DIR]" (make a backup, print its path)
// and "contextd backup verify PATH | list | prune".
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 && (args[0] == "verify" || args[0] == "list" || args[0] == "prune") {
		sub, args = args[0], args[1:]
	}
	fset := newFlagSet("backup", stderr)
	dir := fset.String("dir", "", "backup directory (default BACKUP_DIRECTORY)")
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if *dir == "" {
		*dir = cfg.BackupDirectory
	}
	switch sub {
	case "verify":
		if fset.NArg() != 1 {
			return usageError{"backup verify needs one PATH (a backup directory)"}
		}
		man, err := backup.Verify(fset.Arg(0), cfg.keys())
		if err != nil {
			return storeKeyError(err)
		}
		fmt.Fprintf(stdout, "ok: %s: %s store at change %d, %d records, %d changes, every file and line checked\n",
			man.Path, man.Store, man.Seq, man.Files[0].Records, man.Files[1].Records)
		return nil
	case "list":
		ms, err := backup.List(*dir)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ms)
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("backup takes no arguments (got %q)", fset.Arg(0))}
	}
	logger := newLogger(cfg, stderr)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	mgr, err := backup.New(backup.Options{Dir: *dir, Store: store, Logger: logger, Cipher: cfg.keys(),
		Retention: backup.Retention{Days: cfg.BackupRetentionDays, Daily: backup.DefaultRetention.Daily, Weekly: backup.DefaultRetention.Weekly}})
	if err != nil {
		return err
	}
	if sub == "prune" {
		res, err := mgr.Prune(ctx)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	}
	man, err := mgr.Create(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, man.Path)
	return nil
}

// runRestore is "contextd restore PATH [--to-time RFC3339]": it replaces the
// configured store (DATA_DIR, refused while a server uses it) by a backup,
// or by the state at --to-time: the newest backup before that moment with
// the change log after it replayed (from later backups and the store being
// replaced). PATH is one backup, or a backup directory to pick from. The
// previous DATA_DIR is kept beside it, renamed.
func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := newFlagSet("restore", stderr)
	toTime := fset.String("to-time", "", "restore the state at this moment (RFC 3339) instead of the backup's")
	if len(args) > 1 && !strings.HasPrefix(args[0], "-") { // restore PATH --to-time T
		args = append(args[1:], args[0])
	}
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	if fset.NArg() != 1 {
		return usageError{"restore needs one PATH (a backup, or a directory of backups)"}
	}
	var at time.Time
	if *toTime != "" {
		if at, err = time.Parse(time.RFC3339Nano, *toTime); err != nil {
			return usageError{fmt.Sprintf("--to-time %q: must be RFC 3339 (2026-03-01T12:00:00Z)", *toTime)}
		}
	}
	path := fset.Arg(0)
	var man *contextd.BackupManifest
	backupsDir := filepath.Dir(path)
	if _, err := os.Stat(filepath.Join(path, backup.ManifestFile)); err == nil {
		if man, err = backup.ReadManifest(path); err != nil {
			return err
		}
	} else {
		backupsDir = path
		if man, err = backup.Pick(path, at); err != nil {
			return err
		}
	}
	var sources []backup.ChangeSource
	if !at.IsZero() {
		if sources, err = backup.Later(backupsDir, man, cfg.keys()); err != nil {
			return err
		}
	}
	logger := newLogger(cfg, stderr)
	if cfg.Store != "sqlite" {
		dst, err := openStore(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer dst.Close()
		res, err := backup.Restore(ctx, man.Path, dst, backup.RestoreOptions{ToTime: at, Sources: sources, Cipher: cfg.keys()})
		if err != nil {
			return storeKeyError(err)
		}
		return json.NewEncoder(stdout).Encode(res)
	}

	// SQLite: lock DATA_DIR, move it aside, restore into a new one.
	release, err := backup.LockDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer release()
	var old string
	if _, err := os.Stat(filepath.Join(cfg.DataDir, sqlite.FileName)); err == nil {
		// A name no earlier restore took (two restores may run within a second).
		old = cfg.DataDir + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		for i := 2; ; i++ {
			if _, err := os.Lstat(old); errors.Is(err, fs.ErrNotExist) {
				break
			}
			old = cfg.DataDir + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z") + "-" + strconv.Itoa(i)
		}
		if err := os.Rename(cfg.DataDir, old); err != nil {
			return fmt.Errorf("restore: moving the current store aside: %w", err)
		}
		if !at.IsZero() {
			live, err := sqlite.Open(ctx, old, sqlite.Options{Logger: logger, EncryptionKey: cfg.keys().StoreKey()})
			if err != nil {
				return fmt.Errorf("restore: reading the change log of the current store: %w", storeKeyError(err))
			}
			defer live.Close()
			sources = append(sources, backup.StoreChanges(live))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if old != "" {
		// The lock moved aside with the old store: lock the new DATA_DIR.
		// (Without a store to move, the lock taken above still holds it.)
		releaseNew, err := backup.LockDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer releaseNew()
	}
	dst, err := sqlite.Open(ctx, cfg.DataDir, sqlite.Options{CacheSizeMB: cfg.CacheSizeMB, Logger: logger,
		EncryptionKey: cfg.keys().StoreKey()})
	if err != nil {
		return err
	}
	res, err := backup.Restore(ctx, man.Path, dst, backup.RestoreOptions{ToTime: at, Sources: sources, Cipher: cfg.keys()})
	err = storeKeyError(err)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Put the previous store back.
		failed := cfg.DataDir + ".failed-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if rerr := os.Rename(cfg.DataDir, failed); rerr == nil && old != "" {
			os.Rename(old, cfg.DataDir)
		}
		return err
	}
	if old != "" {
		fmt.Fprintf(stderr, "contextd: the previous store is kept in %s\n", old)
	}
	return json.NewEncoder(stdout).Encode(res)
}
