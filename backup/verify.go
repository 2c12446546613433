package backup

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/contextd/contextd"
)

// Verify checks the backup at path end to end: the manifest, the size and
// SHA-256 of every file, and then every line of every file (decrypted with
// c when encrypted, decompressed and parsed), against the counts, seq and
// change numbering the manifest records. The error says what is wrong. c
// may be nil when the backup is not encrypted.
func Verify(path string, c Cipher) (*contextd.BackupManifest, error) {
	man, err := ReadManifest(path)
	if err != nil {
		return nil, err
	}
	files := map[string]contextd.BackupFile{}
	for _, f := range man.Files {
		files[f.Name] = f
	}
	for _, name := range []string{DataFile, ChangesFile} {
		f, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("backup %s: the manifest lists no %s", path, name)
		}
		if err := checkFile(filepath.Join(path, name), f); err != nil {
			return nil, fmt.Errorf("backup %s: %w", path, err)
		}
	}
	// Every record of the data.
	counts := map[string]int64{}
	var total int64
	err = readGz(filepath.Join(path, DataFile), c, func(r io.Reader) error {
		er, err := contextd.NewExportReader(r)
		if err != nil {
			return err
		}
		if er.Header.Seq != man.Seq {
			return fmt.Errorf("the data is at change %d, the manifest says %d", er.Header.Seq, man.Seq)
		}
		for {
			rec, err := er.Next()
			if err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			counts[rec.Kind]++
			total++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("backup %s: %s: %w", path, DataFile, err)
	}
	if total != files[DataFile].Records {
		return nil, fmt.Errorf("backup %s: %s holds %d records, the manifest says %d", path, DataFile, total, files[DataFile].Records)
	}
	for k, n := range man.Counts {
		if counts[k] != n {
			return nil, fmt.Errorf("backup %s: %s holds %d %s records, the manifest says %d", path, DataFile, counts[k], k, n)
		}
	}
	// The change log: continuous from ChangesFrom+1 to at most Seq.
	next := man.ChangesFrom + 1
	var n int64
	err = readGz(filepath.Join(path, ChangesFile), c, func(r io.Reader) error {
		return readChanges(r, func(c *contextd.Change) error {
			if c.Seq != next {
				return fmt.Errorf("change %d where %d was expected", c.Seq, next)
			}
			if c.Seq > man.Seq {
				return fmt.Errorf("change %d is past the backup's seq %d", c.Seq, man.Seq)
			}
			next++
			n++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("backup %s: %s: %w", path, ChangesFile, err)
	}
	if n != files[ChangesFile].Records {
		return nil, fmt.Errorf("backup %s: %s holds %d changes, the manifest says %d", path, ChangesFile, n, files[ChangesFile].Records)
	}
	return man, nil
}

// checkFile compares a file's size and SHA-256 with the manifest's.
func checkFile(path string, want contextd.BackupFile) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%s: %w", want.Name, err)
	}
	if n != want.Bytes {
		return fmt.Errorf("%s: %d bytes, the manifest says %d (truncated or damaged)", want.Name, n, want.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return fmt.Errorf("%s: SHA-256 %s, the manifest says %s (the file is damaged)", want.Name, got, want.SHA256)
	}
	return nil
}

// readGz hands fn the decompressed content of a gzip file, decrypted first
// by c when it is encrypted.
func readGz(path string, c Cipher, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if c != nil {
		if r, err = c.Open(f); err != nil {
			return err
		}
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		if c == nil && isEncrypted(path) {
			return errors.New("the file is encrypted and no encryption key is set")
		}
		return err
	}
	defer zr.Close()
	if err := fn(zr); err != nil {
		return err
	}
	// Read to the end so the gzip checksum is checked too.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return err
	}
	return nil
}

// encryptedMagic starts an encrypted backup file (an age file, see atrest).
const encryptedMagic = "age-encryption.org/v1"

// isEncrypted reports whether the file at path starts as an encrypted file.
func isEncrypted(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(encryptedMagic))
	_, err = io.ReadFull(f, head)
	return err == nil && bytes.Equal(head, []byte(encryptedMagic))
}
