package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/contextd/contextd"
)

// ChangeSource hands fn the changes it holds with a seq above after, in seq
// order: a later backup's change log, or a live store's.
type ChangeSource func(ctx context.Context, after int64, fn func(*contextd.Change) error) error

// StoreChanges is the change log of a store as a ChangeSource.
func StoreChanges(cl contextd.ChangeLog) ChangeSource {
	return func(ctx context.Context, after int64, fn func(*contextd.Change) error) error {
		return cl.ReadChanges(ctx, after, 0, fn)
	}
}

// BackupChanges is the change log saved in the backup at path, decrypted by
// c when encrypted (c may be nil for a plaintext backup).
func BackupChanges(path string, c Cipher) ChangeSource {
	return func(ctx context.Context, after int64, fn func(*contextd.Change) error) error {
		return readGz(filepath.Join(path, ChangesFile), c, func(r io.Reader) error {
			return readChanges(r, func(c *contextd.Change) error {
				if c.Seq <= after {
					return nil
				}
				return fn(c)
			})
		})
	}
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// ToTime, when set, restores the state as of that moment: the backup's
	// data with every later change up to ToTime replayed on it, from
	// Sources. The backup must be from before ToTime (see Pick).
	ToTime time.Time
	// Sources hold the changes after the backup (later backups, the live
	// store's log), read in order; a seq found twice is taken once.
	Sources []ChangeSource
	// Cipher decrypts an encrypted backup; nil for a plaintext one.
	Cipher Cipher
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	Backup   *contextd.BackupManifest `json:"backup"`
	Records  map[string]int64         `json:"records"`  // stored, by kind
	Replayed int                      `json:"replayed"` // changes laid over the backup's data
	Seq      int64                    `json:"seq"`      // the change the restored state is at
	At       time.Time                `json:"at"`       // the time of that change (zero if unknown)
}

// restoreBatch is how many records one import transaction takes.
const restoreBatch = 1000

// Restore verifies the backup at path and loads it into dst, which must be
// empty (a new store, of any kind): the data as of the backup, or with
// opts.ToTime as of that moment, and the change log up to that point, so
// history and later backups continue from it.
func Restore(ctx context.Context, path string, dst contextd.Store, opts RestoreOptions) (*RestoreResult, error) {
	man, err := Verify(path, opts.Cipher)
	if err != nil {
		return nil, err
	}
	im, ok1 := contextd.StoreAs[contextd.Importer](dst)
	cl, ok2 := contextd.StoreAs[contextd.ChangeLog](dst)
	ex, ok3 := contextd.StoreAs[contextd.Exporter](dst)
	if !ok1 || !ok2 || !ok3 {
		return nil, contextd.Errorf(contextd.EINVALID, "the %s store cannot be restored into", dst.Kind())
	}
	errNotEmpty := errors.New("not empty")
	if err := ex.Export(ctx, func(*contextd.Record) error { return errNotEmpty }); errors.Is(err, errNotEmpty) {
		return nil, contextd.Errorf(contextd.ECONFLICT, "the %s store to restore into is not empty", dst.Kind())
	} else if err != nil {
		return nil, err
	}
	if last, err := cl.LastChange(ctx); err != nil {
		return nil, err
	} else if last != 0 {
		return nil, contextd.Errorf(contextd.ECONFLICT, "the %s store to restore into has a change log already", dst.Kind())
	}
	res := &RestoreResult{Backup: man, Records: map[string]int64{}, Seq: man.Seq}

	// The backup's own log: the history up to the backup.
	var log []*contextd.Change
	if err := BackupChanges(path, opts.Cipher)(ctx, man.ChangesFrom, func(c *contextd.Change) error {
		log = append(log, c)
		return nil
	}); err != nil {
		return nil, err
	}
	if n := len(log); n > 0 {
		res.At = log[n-1].At
	}
	ov := contextd.NewOverlay()
	if !opts.ToTime.IsZero() {
		if n := len(log); n > 0 && log[n-1].At.After(opts.ToTime) {
			return nil, contextd.Errorf(contextd.EINVALID, "backup %s holds changes after %s: restore from an earlier backup", man.ID, opts.ToTime.Format(time.RFC3339Nano))
		}
		next := man.Seq + 1
		stop := errors.New("stop")
		for _, src := range opts.Sources {
			err := src(ctx, next-1, func(c *contextd.Change) error {
				if c.Seq < next {
					return nil // already taken from an earlier source
				}
				if c.Seq > next {
					return contextd.Errorf(contextd.EINVALID, "the change log has a gap: change %d is missing (the next one found is %d)", next, c.Seq)
				}
				if c.At.After(opts.ToTime) {
					return stop
				}
				ov.Add(c)
				log = append(log, c)
				next++
				res.Replayed++
				res.Seq, res.At = c.Seq, c.At
				return nil
			})
			if errors.Is(err, stop) {
				break
			} else if err != nil {
				return nil, err
			}
		}
	}

	// The data, with the replayed changes laid over it, in batches.
	var batch []*contextd.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := im.Import(ctx, batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	add := func(rec *contextd.Record) error {
		res.Records[rec.Kind]++
		batch = append(batch, rec)
		if len(batch) == restoreBatch {
			return flush()
		}
		return nil
	}
	restDone := false
	err = readGz(filepath.Join(path, DataFile), opts.Cipher, func(r io.Reader) error {
		er, err := contextd.NewExportReader(r)
		if err != nil {
			return err
		}
		for {
			rec, err := er.Next()
			if err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if rec.Kind == contextd.KindRelationship && !restDone {
				// Objects made after the backup come before its edges.
				restDone = true
				if err := ov.Rest(false, add); err != nil {
					return err
				}
			}
			if rec, err = ov.Apply(rec); err != nil {
				return err
			} else if rec == nil {
				continue
			}
			if err := add(rec); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", path, err)
	}
	if !restDone {
		if err := ov.Rest(false, add); err != nil {
			return nil, err
		}
	}
	if err := ov.Rest(true, add); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for i := 0; i < len(log); i += restoreBatch {
		if err := cl.ImportChanges(ctx, log[i:min(len(log), i+restoreBatch)]); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Pick returns the backup of dir to restore: the newest one, or with toTime
// set the newest whose data is from before toTime.
func Pick(dir string, toTime time.Time) (*contextd.BackupManifest, error) {
	ms, err := List(dir)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if toTime.IsZero() || !m.SeqAt.After(toTime) {
			return m, nil
		}
	}
	if len(ms) == 0 {
		return nil, contextd.Errorf(contextd.ENOTFOUND, "no backup in %s", dir)
	}
	return nil, contextd.Errorf(contextd.ENOTFOUND, "no backup in %s is older than %s", dir, toTime.Format(time.RFC3339))
}

// Later returns the change logs of the backups of dir made after man, oldest
// first, as sources for a point-in-time restore; c decrypts encrypted ones.
func Later(dir string, man *contextd.BackupManifest, c Cipher) ([]ChangeSource, error) {
	ms, err := List(dir)
	if err != nil {
		return nil, err
	}
	var out []ChangeSource
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Seq > man.Seq {
			out = append(out, BackupChanges(ms[i].Path, c))
		}
	}
	return out, nil
}
