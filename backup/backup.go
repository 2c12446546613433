// Package backup makes, checks, prunes and restores contextd backups.
//
// A backup is a directory in the backup directory:
//
//	backup-20261126T020500.123Z/
//	  manifest.json      contextd.BackupManifest: seq, counts, store kind, format, sha256 per file
//	  data.ndjson.gz     the store as of change seq, in the export format (contextd-export v1)
//	  changes.ndjson.gz  the change log the store still held, up to seq (contextd-changes v1)
//
// It is a logical snapshot (contextd.Snapshot: the store's export with the
// changes committed meanwhile laid over it), so the server keeps serving
// while it is made, and a backup of one store kind restores into the other.
// A backup is written under a temporary name and renamed once complete:
// a directory with a manifest is a whole backup.
package backup

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/contextd/contextd"
)

// Format names of the backup files.
const (
	Format         = "contextd-backup"
	FormatVersion  = 1
	ChangesFormat  = "contextd-changes"
	ManifestFile   = "manifest.json"
	DataFile       = "data.ndjson.gz"
	ChangesFile    = "changes.ndjson.gz"
	dirPrefix      = "backup-"
	tmpPrefix      = ".tmp-backup-"
	dirTimeLayout  = "20060102T150405.000Z"
	maxChangesLine = contextd.MaxExportLine
)

// Options configure a Manager.
type Options struct {
	// Dir is the backup directory (BACKUP_DIRECTORY). Required.
	Dir string
	// Store is the store backed up: a contextd.Exporter and contextd.ChangeLog.
	Store contextd.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what the scheduler does; nil means slog.Default().
	Logger *slog.Logger
	// Retention is the policy of Prune; the zero value means DefaultRetention.
	Retention Retention
	// Cipher, when set, encrypts the data and change files of new backups
	// (the manifest stays readable: counts, seq, sizes and hashes, no
	// content); nil writes them in plaintext.
	Cipher Cipher
}

// Cipher encrypts backup files at rest and reads them back; atrest.Keys
// implements it.
type Cipher interface {
	// Seal returns a writer encrypting into w; its Close ends the file.
	Seal(w io.Writer) (io.WriteCloser, error)
	// Open returns the plaintext of r, whether r is encrypted or not; it
	// fails when r is encrypted and no key of the cipher fits.
	Open(r io.Reader) (io.Reader, error)
}

// Manager makes and prunes the backups of one store. It implements
// contextd.Backups.
type Manager struct {
	dir   string
	store contextd.Store
	now   func() time.Time
	log   *slog.Logger
	keep  Retention
	ciph  Cipher
	mu    sync.Mutex // one backup or prune at a time
}

var _ contextd.Backups = (*Manager)(nil)

// New returns a Manager; the directory is made with the first backup.
func New(opts Options) (*Manager, error) {
	if opts.Dir == "" {
		return nil, errors.New("backup: no directory")
	}
	m := &Manager{dir: opts.Dir, store: opts.Store, now: opts.Now, log: opts.Logger, keep: opts.Retention, ciph: opts.Cipher}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("component", "backup")
	if m.keep == (Retention{}) {
		m.keep = DefaultRetention
	}
	return m, nil
}

// Dir is the backup directory.
func (m *Manager) Dir() string { return m.dir }

// Create implements contextd.Backups: it writes a new backup and returns its
// manifest (Path set).
func (m *Manager) Create(ctx context.Context) (*contextd.BackupManifest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.create(ctx)
}

func (m *Manager) create(ctx context.Context) (*contextd.BackupManifest, error) {
	cl, ok := contextd.StoreAs[contextd.ChangeLog](m.store)
	if !ok {
		return nil, contextd.Errorf(contextd.EINVALID, "the %s store keeps no change log: it cannot be backed up", m.store.Kind())
	}
	now := m.now().UTC()
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.MkdirTemp(m.dir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp) // gone once renamed
	man := &contextd.BackupManifest{Format: Format, FormatVersion: FormatVersion, CreatedAt: now, Store: m.store.Kind(),
		Counts: map[string]int64{}}

	// The data, as of one change seq.
	df, err := newGzFile(filepath.Join(tmp, DataFile), m.ciph)
	if err != nil {
		return nil, err
	}
	defer df.abort()
	var ew *contextd.ExportWriter
	seq, err := contextd.Snapshot(ctx, m.store, "", tmp, func(seq int64) error {
		var err error
		ew, err = contextd.NewExportWriter(df, contextd.ExportHeader{CreatedAt: now, Store: m.store.Kind(), Seq: seq})
		return err
	}, func(rec *contextd.Record) error {
		man.Counts[rec.Kind]++
		return ew.Write(rec)
	})
	if err != nil {
		return nil, err
	}
	if err := ew.Flush(); err != nil {
		return nil, err
	}
	man.Seq = seq
	f, err := df.close(DataFile, ew.Count())
	if err != nil {
		return nil, err
	}
	man.Files = append(man.Files, f)

	// The change log up to seq, for point-in-time recovery.
	cf, err := newGzFile(filepath.Join(tmp, ChangesFile), m.ciph)
	if err != nil {
		return nil, err
	}
	defer cf.abort()
	cw, err := newChangesWriter(cf)
	if err != nil {
		return nil, err
	}
	first := int64(-1)
	err = cl.ReadChanges(ctx, 0, seq, func(c *contextd.Change) error {
		if first < 0 {
			first = c.Seq
		}
		if c.Seq == seq {
			man.SeqAt = c.At
		}
		return cw.write(c)
	})
	if err != nil {
		return nil, err
	}
	if err := cw.flush(); err != nil {
		return nil, err
	}
	man.ChangesFrom = seq
	if first >= 0 {
		man.ChangesFrom = first - 1
	}
	f, err = cf.close(ChangesFile, cw.n)
	if err != nil {
		return nil, err
	}
	man.Files = append(man.Files, f)

	man.ID = dirPrefix + now.Format(dirTimeLayout)
	if err := writeJSONFile(filepath.Join(tmp, ManifestFile), man); err != nil {
		return nil, err
	}
	final := filepath.Join(m.dir, man.ID)
	if _, err := os.Stat(final); err == nil {
		return nil, contextd.Errorf(contextd.ECONFLICT, "a backup named %s already exists (two backups in one millisecond)", man.ID)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(m.dir); err != nil {
		return nil, err
	}
	man.Path = final
	m.log.Info("backup made", "path", final, "seq", seq, "records", ew.Count(), "changes", cw.n)
	return man, nil
}

// List implements contextd.Backups: the whole backups of the directory,
// newest first (Path set).
func (m *Manager) List(ctx context.Context) ([]*contextd.BackupManifest, error) {
	return List(m.dir)
}

// List reads the manifests of the backups in dir, newest first.
func List(dir string) ([]*contextd.BackupManifest, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []*contextd.BackupManifest{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	out := []*contextd.BackupManifest{}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		man, err := ReadManifest(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // not a whole backup
		}
		out = append(out, man)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// ReadManifest reads the manifest of the backup at path (Path set).
func ReadManifest(path string) (*contextd.BackupManifest, error) {
	b, err := os.ReadFile(filepath.Join(path, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", path, err)
	}
	var man contextd.BackupManifest
	if err := json.Unmarshal(b, &man); err != nil {
		return nil, fmt.Errorf("backup %s: manifest: %w", path, err)
	}
	if man.Format != Format {
		return nil, fmt.Errorf("backup %s: manifest: not a %s manifest", path, Format)
	}
	if man.FormatVersion < 1 || man.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("backup %s: format version %d is not supported", path, man.FormatVersion)
	}
	man.Path = path
	return &man, nil
}

// gzFile is a gzip file being written, hashed as it goes, encrypted after
// compression when the Manager has a Cipher (the hash and size are of the
// bytes on disk).
type gzFile struct {
	f    *os.File
	h    hash.Hash
	n    int64
	enc  io.WriteCloser // the encryption layer; nil for none
	gz   *gzip.Writer
	done bool
}

func newGzFile(path string, c Cipher) (*gzFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	g := &gzFile{f: f, h: sha256.New()}
	var w io.Writer = io.MultiWriter(f, g.h, countWriter{&g.n})
	if c != nil {
		if g.enc, err = c.Seal(w); err != nil {
			f.Close()
			return nil, fmt.Errorf("backup: encrypt: %w", err)
		}
		w = g.enc
	}
	g.gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
	return g, nil
}

func (g *gzFile) Write(b []byte) (int, error) { return g.gz.Write(b) }

// close finishes the file durably and describes it.
func (g *gzFile) close(name string, records int64) (contextd.BackupFile, error) {
	g.done = true
	err := g.gz.Close()
	if err == nil && g.enc != nil {
		err = g.enc.Close()
	}
	if err == nil {
		err = g.f.Sync()
	}
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return contextd.BackupFile{}, fmt.Errorf("backup: %s: %w", name, err)
	}
	return contextd.BackupFile{Name: name, Bytes: g.n, SHA256: hex.EncodeToString(g.h.Sum(nil)), Records: records}, nil
}

func (g *gzFile) abort() {
	if !g.done {
		g.f.Close()
	}
}

type countWriter struct{ n *int64 }

func (c countWriter) Write(b []byte) (int, error) { *c.n += int64(len(b)); return len(b), nil }

// changesHeader is the first line of changes.ndjson.gz.
type changesHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

type changesWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
	n   int64
}

func newChangesWriter(w io.Writer) (*changesWriter, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(changesHeader{Format: ChangesFormat, Version: 1}); err != nil {
		return nil, err
	}
	return &changesWriter{w: bw, enc: enc}, nil
}

func (c *changesWriter) write(ch *contextd.Change) error { c.n++; return c.enc.Encode(ch) }
func (c *changesWriter) flush() error                    { return c.w.Flush() }

// readChanges calls fn for every change of a changes file.
func readChanges(r io.Reader, fn func(*contextd.Change) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > maxChangesLine {
			return fmt.Errorf("line %d: too long", line+1)
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			line++
			if line == 1 {
				var h changesHeader
				if jerr := json.Unmarshal(b, &h); jerr != nil || h.Format != ChangesFormat || h.Version != 1 {
					return fmt.Errorf("line 1: not a %s v1 header", ChangesFormat)
				}
			} else {
				var c contextd.Change
				if jerr := json.Unmarshal(b, &c); jerr != nil {
					return fmt.Errorf("line %d: %v", line, jerr)
				}
				if ferr := fn(&c); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			if line == 0 {
				return errors.New("empty file (no header)")
			}
			return nil
		} else if err != nil {
			return err
		}
	}
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
