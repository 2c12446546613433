package sqlite

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ncruces "github.com/ncruces/go-sqlite3"
	ncdriver "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/vfs/adiantum" // registers the "adiantum" VFS
	sqlitedrv "modernc.org/sqlite"
)

// The store reaches SQLite through one of two drivers, behind the small
// abstraction of this file (open a pool with pragmas, read an error code):
//
//   - plaintext (no Options.EncryptionKey): modernc.org/sqlite, SQLite
//     compiled from C to Go;
//   - encrypted: github.com/ncruces/go-sqlite3, SQLite compiled to Wasm
//     and translated to Go, with its "adiantum" VFS, which encrypts every
//     file SQLite writes (the database, its WAL and rollback journals; temp
//     files, which temp_store=MEMORY keeps off disk anyway, get random
//     keys) in 4 KiB blocks, the page size. modernc has no encryption and
//     no writable VFS.
//
// Adiantum (XChaCha12, AES-256 on one block, NH and Poly1305 as a hash) is
// the VFS's wide-block cipher: a block changes entirely when any byte of it
// does, and it measured faster than the package's AES-XTS VFS (1.3× against
// 1.8× the plaintext time on a bulk insert of 20k FTS-indexed rows).
// Neither authenticates pages: this is confidentiality at rest, as disk
// encryption gives, not protection from someone who can write the files.
//
// Both drivers see the same SQL, pragmas and schema; the file formats are
// the same SQLite format underneath, so `contextd rekey` (Rekey) converts
// a store between plaintext and encrypted with VACUUM INTO.

// encryptedVFS is the ncruces VFS of encrypted stores.
const encryptedVFS = "adiantum"

// KeySize is the length of Options.EncryptionKey: Adiantum takes 32 bytes.
const KeySize = 32

// Errors of Open when the store's file and the key do not match; callers
// name their setting in the message they show.
var (
	// ErrWrongKey: the file is not a plaintext SQLite file and the key does
	// not decrypt it (another key, or not a database at all).
	ErrWrongKey = errors.New("the encryption key does not open this store (a different key, or not a contextd database)")
	// ErrNotEncrypted: a key was given but the store's file is plaintext.
	ErrNotEncrypted = errors.New("the store is not encrypted but an encryption key is set")
	// ErrEncrypted: no key was given and the store's file is not a
	// plaintext SQLite file (an encrypted store, or not a database at all).
	ErrEncrypted = errors.New("the store is encrypted (or not an SQLite database) and no encryption key is set")
)

// sqliteHeader starts every plaintext SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// openDB opens a connection pool on the database file path: every new
// connection gets the pragmas, in order; extra are URI parameters (such as
// mode=ro). With key set the file is opened through the encrypting VFS and
// the key is given by PRAGMA hexkey on each connection before anything
// reads the file (not in the URI, which SQLite hands around).
func openDB(path string, key []byte, pragmas []string, extra ...string) (*sql.DB, error) {
	if key == nil {
		return sql.Open("sqlite", dsn(path, pragmas, extra...))
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("sqlite: encryption key of %d bytes (want %d)", len(key), KeySize)
	}
	hexKey := hex.EncodeToString(key)
	q := append([]string{"vfs=" + encryptedVFS}, extra...)
	uri := "file:" + escapePath(path) + "?" + strings.Join(q, "&")
	return ncdriver.Open(uri, func(c *ncruces.Conn) error {
		if err := c.Exec("PRAGMA hexkey='" + hexKey + "'"); err != nil {
			return fmt.Errorf("set key: %w", err)
		}
		if err := registerHitsNcruces(c); err != nil { // fts5 with contextd_hits (fts_hits.go)
			return fmt.Errorf("fts5: %w", err)
		}
		// Plans that do not follow bound values (see qpsg.go).
		if _, err := c.Config(ncruces.DBCONFIG_ENABLE_QPSG, true); err != nil {
			return fmt.Errorf("enable QPSG: %w", err)
		}
		for _, p := range pragmas {
			if err := c.Exec("PRAGMA " + p); err != nil {
				return fmt.Errorf("PRAGMA %s: %w", p, err)
			}
		}
		return nil
	})
}

// errCode is the SQLite extended result code of err, from either driver;
// ok is false when err is not an SQLite error. code&0xff is the primary code.
func errCode(err error) (code int, ok bool) {
	var me *sqlitedrv.Error
	if errors.As(err, &me) {
		return me.Code(), true
	}
	var ne *ncruces.Error
	if errors.As(err, &ne) {
		return int(ne.ExtendedCode()), true
	}
	var xc ncruces.ExtendedErrorCode // bare codes, as extension setup returns
	if errors.As(err, &xc) {
		return int(xc), true
	}
	var pc ncruces.ErrorCode
	if errors.As(err, &pc) {
		return int(pc), true
	}
	return 0, false
}

// errMessage is the message of an SQLite error of either driver.
func errMessage(err error) string {
	var me *sqlitedrv.Error
	if errors.As(err, &me) {
		return me.Error()
	}
	var ne *ncruces.Error
	if errors.As(err, &ne) {
		return ne.Error()
	}
	return err.Error()
}

// keyMismatch turns the error of a store's first read into ErrWrongKey,
// ErrNotEncrypted or ErrEncrypted when SQLite found no database where the
// file is (SQLITE_NOTADB) and the file's first bytes say why; other errors
// are returned as they are. Nothing has been written to the file then.
func keyMismatch(path string, encrypted bool, err error) error {
	code, ok := errCode(err)
	if !ok || code&0xff != 26 { // SQLITE_NOTADB
		return err
	}
	plain := isPlaintext(path)
	switch {
	case encrypted && plain:
		return fmt.Errorf("sqlite: open %s: %w", path, ErrNotEncrypted)
	case encrypted:
		return fmt.Errorf("sqlite: open %s: %w", path, ErrWrongKey)
	case !plain:
		return fmt.Errorf("sqlite: open %s: %w", path, ErrEncrypted)
	}
	return err
}

// isPlaintext reports whether the file at path starts with the header of a
// plaintext SQLite database.
func isPlaintext(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	return bytes.Equal(head, sqliteHeader)
}

// IsEncrypted reports whether the store in directory dir exists and its
// database file is not a plaintext SQLite file (so: encrypted, given that it
// is a contextd store). A missing or empty file is neither: false.
func IsEncrypted(dir string) (bool, error) {
	path := filepath.Join(dir, FileName)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if st.Size() == 0 {
		return false, nil
	}
	return !isPlaintext(path), nil
}

// KeyOpens reports whether key (nil: none) opens the database of the store
// in directory dir: a read of its schema on one connection, which writes
// nothing. For error messages (which of several keys is the store's).
func KeyOpens(dir string, key []byte) bool {
	db, err := openDB(filepath.Join(dir, FileName), key, []string{"busy_timeout(10000)"})
	if err != nil {
		return false
	}
	defer db.Close()
	var n int
	return db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n) == nil
}
