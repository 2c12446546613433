// Package atrest holds contextd's encryption keys for data at rest
// (ENCRYPTION_KEY, ENCRYPTION_PREVIOUS_KEYS) and encrypts the files contextd
// writes outside its store: backups and exports.
//
// A key is 32 random bytes, written as 64 hex digits or in base64
// (`openssl rand -hex 32`). It is never used directly: HKDF-SHA256 derives
// one subkey per use, so that the store's cipher and the files' never share
// a key:
//
//	StoreKey  "contextd v1 store"  the embedded store (sqlite.Options.EncryptionKey)
//	file key  "contextd v1 files"  backups and exports, as age passphrase files
//
// Files are age files (https://age-encryption.org/v1, filippo.io/age): a
// header, then ChaCha20-Poly1305 in 64 KiB chunks, every chunk
// authenticated, so a damaged or altered file fails to decrypt instead of
// giving wrong data. The recipient is age's scrypt (passphrase) recipient
// with the hex of the file key as the passphrase: the key is shared, as it
// must be since the server both writes and restores backups, and scrypt's
// work factor is the lowest age allows in practice (2^10) because the
// passphrase is already 256 random bits. An encrypted file starts with
// "age-encryption.org/v1"; reading code tells it from a plaintext file by
// that, so files written before encryption was turned on stay readable.
package atrest

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// KeySize is the length of a key: 32 bytes.
const KeySize = 32

// scryptLogN is the scrypt work factor of file encryption (see the package
// comment): 2^10 iterations, about a millisecond.
const scryptLogN = 10

// Magic starts every encrypted file.
const Magic = "age-encryption.org/v1"

// Errors of reading an encrypted file.
var (
	// ErrNoKey: the file is encrypted and no key is configured.
	ErrNoKey = errors.New("the file is encrypted and no encryption key is set")
	// ErrWrongKey: none of the configured keys (current and previous)
	// decrypts the file.
	ErrWrongKey = errors.New("none of the encryption keys decrypts the file (it was written with another key)")
)

// ParseKey reads a key: 64 hex digits, or base64 (standard or URL alphabet,
// padded or not) of 32 bytes. Surrounding space is ignored. The error says
// what is wrong without repeating the value.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("must be %d random bytes as %d hex digits or base64 (e.g. from `openssl rand -hex %d`); got %d characters that are neither",
		KeySize, 2*KeySize, KeySize, len(s))
}

// ParseKeys reads a list of keys separated by commas, spaces or newlines
// (one per line in a key file); lines starting with # are comments.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			k, err := ParseKey(f)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", len(keys)+1, err)
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// derive is the HKDF-SHA256 subkey of key for a use.
func derive(key []byte, use string) []byte {
	k, err := hkdf.Key(sha256.New, key, nil, "contextd v1 "+use, KeySize)
	if err != nil { // only for lengths HKDF cannot make
		panic(err)
	}
	return k
}

// StoreKey is the key of the embedded store derived from key; nil for nil.
func StoreKey(key []byte) []byte {
	if key == nil {
		return nil
	}
	return derive(key, "store")
}

// Keys are the configured keys: Current encrypts what is written (nil:
// nothing is encrypted); Current and Previous decrypt what is read.
// Keys implement contextd.FileCipher. The zero value encrypts nothing and
// reads plaintext files only.
type Keys struct {
	Current  []byte
	Previous [][]byte
}

// Enabled reports whether a current key is set.
func (k *Keys) Enabled() bool { return k != nil && k.Current != nil }

// StoreKey is the embedded store's key; nil when encryption is off.
func (k *Keys) StoreKey() []byte {
	if !k.Enabled() {
		return nil
	}
	return StoreKey(k.Current)
}

func passphrase(key []byte) string { return hex.EncodeToString(derive(key, "files")) }

// Seal returns a writer encrypting into w with the current key; Close ends
// the file (and does not close w). With no current key it writes w as is.
func (k *Keys) Seal(w io.Writer) (io.WriteCloser, error) {
	if !k.Enabled() {
		return nopCloser{w}, nil
	}
	r, err := age.NewScryptRecipient(passphrase(k.Current))
	if err != nil {
		return nil, err
	}
	r.SetWorkFactor(scryptLogN)
	return age.Encrypt(w, r)
}

// Open returns the content of r: decrypted when r is an encrypted file
// (with the current key or a previous one), r's own bytes otherwise. It
// fails with ErrNoKey or ErrWrongKey when r is encrypted and no key fits;
// a damaged encrypted file fails when its damaged chunk is read.
func (k *Keys) Open(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(Magic))
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if !bytes.Equal(head, []byte(Magic)) {
		return br, nil
	}
	var ids []age.Identity
	if k != nil {
		for _, key := range append([][]byte{k.Current}, k.Previous...) {
			if key == nil {
				continue
			}
			id, err := age.NewScryptIdentity(passphrase(key))
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, ErrNoKey
	}
	out, err := age.Decrypt(br, ids...)
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return nil, ErrWrongKey
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return out, nil
}

// IsEncrypted reports whether data (the first bytes of a file) starts an
// encrypted file.
func IsEncrypted(data []byte) bool { return bytes.HasPrefix(data, []byte(Magic)) }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
