package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	ncruces "github.com/ncruces/go-sqlite3"
	ncdriver "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/ext/fts5"
)

// RekeyResult says what Rekey did.
type RekeyResult struct {
	From   string           `json:"from"`   // "plaintext" or "encrypted"
	To     string           `json:"to"`     // "plaintext" or "encrypted"
	Bytes  int64            `json:"bytes"`  // size of the new database file
	Tables map[string]int64 `json:"tables"` // rows per table, equal in the old and new file
	Kept   string           `json:"kept,omitempty"`
}

// Rekey rewrites the store in directory dir, which no process may have
// open, under newKey: encrypted with another key, encrypted from plaintext
// (oldKey nil), or decrypted (newKey nil). The store is opened with oldKey
// (failing with ErrWrongKey, ErrNotEncrypted or ErrEncrypted as Open does)
// and brought up to date, its WAL checkpointed, then copied by VACUUM INTO
// to a new file beside it, which is checked (integrity_check, and the rows
// of every table counted in both files) before it replaces the old file by
// an atomic rename: at every moment contextd.db is the old file or the
// whole new one. The old file stays as contextd.db.before-rekey-TIME when
// keepOld is set, and is removed otherwise.
func Rekey(ctx context.Context, dir string, oldKey, newKey []byte, keepOld bool) (*RekeyResult, error) {
	for _, k := range [][]byte{oldKey, newKey} {
		if k != nil && len(k) != KeySize {
			return nil, fmt.Errorf("sqlite: rekey: a key of %d bytes (want %d)", len(k), KeySize)
		}
	}
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: rekey: %w", err)
	}
	// Open it as the server would: the key is checked, migrations run, and
	// Close checkpoints the WAL into the file.
	s, err := Open(ctx, dir, Options{EncryptionKey: oldKey, ReadConns: 1})
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	res := &RekeyResult{From: state(oldKey), To: state(newKey)}

	src, err := rawNC(path, oldKey)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	// Nothing may write meanwhile: hold the write lock for the copy.
	conn, err := src.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rekey: %w", keyMismatch(path, oldKey != nil, err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return nil, fmt.Errorf("sqlite: rekey: checkpoint: %w", err)
	}
	want, err := tableCounts(ctx, conn)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "."+FileName+".rekey-"+time.Now().UTC().Format("20060102T150405.000Z"))
	defer removeDB(tmp)
	target := "file:" + escapePath(tmp) + "?vfs=os"
	if newKey != nil {
		// The target's key travels in its URI: VACUUM INTO opens the file
		// itself. It stays inside this process.
		target = "file:" + escapePath(tmp) + "?vfs=" + encryptedVFS + "&hexkey=" + hex.EncodeToString(newKey)
	}
	if _, err := conn.ExecContext(ctx, "VACUUM INTO "+quote(target)); err != nil {
		return nil, fmt.Errorf("sqlite: rekey: copy: %w", err)
	}
	if err := conn.Close(); err != nil {
		return nil, err
	}

	// Check the copy with the new key.
	dst, err := rawNC(tmp, newKey)
	if err != nil {
		return nil, err
	}
	var msgs []string
	rows, err := dst.QueryContext(ctx, "PRAGMA integrity_check")
	if err == nil {
		for rows.Next() {
			var m string
			if err = rows.Scan(&m); err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		rows.Close()
	}
	if err == nil && (len(msgs) != 1 || msgs[0] != "ok") {
		err = fmt.Errorf("integrity_check: %s", strings.Join(msgs, "; "))
	}
	var got map[string]int64
	if err == nil {
		got, err = tableCounts(ctx, dst)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: rekey: the new file fails its check (the store is unchanged): %w", err)
	}
	for t, n := range want {
		if got[t] != n {
			return nil, fmt.Errorf("sqlite: rekey: table %s has %d rows in the new file, %d in the old (the store is unchanged)", t, got[t], n)
		}
	}
	if err := src.Close(); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return nil, err
	}
	res.Bytes, res.Tables = st.Size(), want

	// Swap: keep a link to the old file, then rename the new one over it.
	kept := path + ".before-rekey-" + time.Now().UTC().Format("20060102T150405.000Z")
	if err := os.Link(path, kept); err != nil {
		return nil, fmt.Errorf("sqlite: rekey: keeping the old file: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} { // checkpointed and closed: nothing in them
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			os.Remove(kept)
			return nil, fmt.Errorf("sqlite: rekey: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(kept)
		return nil, fmt.Errorf("sqlite: rekey: %w", err)
	}
	if err := syncFile(dir); err != nil {
		return nil, err
	}
	// The store opens with the new key.
	s, err = Open(ctx, dir, Options{EncryptionKey: newKey, ReadConns: 1})
	if err != nil {
		return nil, fmt.Errorf("sqlite: rekey: the new file does not open (the old one is %s): %w", kept, err)
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	if keepOld {
		res.Kept = kept
	} else if err := os.Remove(kept); err != nil {
		return nil, fmt.Errorf("sqlite: rekey: removing the old file: %w", err)
	}
	return res, nil
}

func state(key []byte) string {
	if key == nil {
		return "plaintext"
	}
	return "encrypted"
}

// rawNC opens one ncruces connection on path: through the encrypting VFS
// with key, the plain one without.
func rawNC(path string, key []byte) (*sql.DB, error) {
	if key != nil {
		db, err := openDB(path, key, []string{"busy_timeout(10000)", "temp_store(MEMORY)"})
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		return db, nil
	}
	db, err := ncdriver.Open("file:"+escapePath(path)+"?vfs=os", func(c *ncruces.Conn) error {
		if err := fts5.Register(c); err != nil {
			return err
		}
		return c.Exec("PRAGMA busy_timeout(10000); PRAGMA temp_store(MEMORY)")
	})
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tableCounts counts the rows of every ordinary table (virtual tables are
// counted through their shadow tables).
func tableCounts(ctx context.Context, q querier) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rekey: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(n)).Scan(&c); err != nil {
			return nil, fmt.Errorf("sqlite: rekey: count %s: %w", n, err)
		}
		out[n] = c
	}
	return out, nil
}

func quote(s string) string      { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// syncFile fsyncs a file or directory.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// removeDB removes a database file and its companions, if they exist.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}
