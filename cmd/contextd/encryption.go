package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/contextd/contextd/atrest"
	"github.com/contextd/contextd/sqlite"
)

// Encryption holds the settings of encryption at rest (package atrest): the
// embedded store's files, backups and exports.
type Encryption struct {
	EncryptionKey          string `json:"-"` // ENCRYPTION_KEY (or ENCRYPTION_KEY_FILE): 32 random bytes as 64 hex digits or base64; "" (default) encrypts nothing
	EncryptionPreviousKeys string `json:"-"` // ENCRYPTION_PREVIOUS_KEYS (or ENCRYPTION_PREVIOUS_KEYS_FILE): earlier keys, comma- or newline-separated, that still decrypt old backups and exports; "" none
}

var encryptionSettings = []setting{
	{"ENCRYPTION_KEY", "", "key of encryption at rest: 64 hex digits or base64 of 32 random bytes (empty: off)", strSet(func(c *Config) *string { return &c.EncryptionKey })},
	{"ENCRYPTION_PREVIOUS_KEYS", "", "earlier encryption keys that still decrypt old backups and exports", strSet(func(c *Config) *string { return &c.EncryptionPreviousKeys })},
}

// validate checks the keys' format; the error names the setting and never
// repeats a key.
func (e *Encryption) validate() error {
	if e.EncryptionKey != "" {
		if _, err := atrest.ParseKey(e.EncryptionKey); err != nil {
			return &configError{"ENCRYPTION_KEY", err.Error()}
		}
	}
	if e.EncryptionPreviousKeys != "" {
		if _, err := atrest.ParseKeys(e.EncryptionPreviousKeys); err != nil {
			return &configError{"ENCRYPTION_PREVIOUS_KEYS", err.Error()}
		}
	}
	return nil
}

// keys are the configured keys (validated by loadConfig): the zero Keys,
// which encrypt nothing, when ENCRYPTION_KEY is empty.
func (e *Encryption) keys() *atrest.Keys {
	k := &atrest.Keys{}
	if e.EncryptionKey != "" {
		k.Current, _ = atrest.ParseKey(e.EncryptionKey)
	}
	if e.EncryptionPreviousKeys != "" {
		k.Previous, _ = atrest.ParseKeys(e.EncryptionPreviousKeys)
	}
	return k
}

// envStoreKey is the store key of ENCRYPTION_KEY (or the file
// ENCRYPTION_KEY_FILE names) read straight from the environment, for
// commands that open stores by URL; nil when neither is set.
func envStoreKey(getenv func(string) string) ([]byte, error) {
	v, name := getenv("ENCRYPTION_KEY"), "ENCRYPTION_KEY"
	if v == "" && getenv("ENCRYPTION_KEY_FILE") != "" {
		b, err := os.ReadFile(getenv("ENCRYPTION_KEY_FILE"))
		if err != nil {
			return nil, &configError{"ENCRYPTION_KEY_FILE", err.Error()}
		}
		v, name = string(b), "ENCRYPTION_KEY_FILE"
	}
	if v == "" {
		return nil, nil
	}
	k, err := atrest.ParseKey(v)
	if err != nil {
		return nil, &configError{name, err.Error()}
	}
	return atrest.StoreKey(k), nil
}

// previousKeyError names the previous key that still opens the store when
// ENCRYPTION_KEY does not (a rotation configured but `contextd rekey` not
// run); other errors pass unchanged.
func previousKeyError(cfg *Config, err error) error {
	if !errors.Is(err, sqlite.ErrWrongKey) {
		return err
	}
	for i, k := range cfg.keys().Previous {
		if sqlite.KeyOpens(cfg.DataDir, atrest.StoreKey(k)) {
			return &configError{"ENCRYPTION_KEY", fmt.Sprintf("does not decrypt the store in DATA_DIR, which is still encrypted with key %d of ENCRYPTION_PREVIOUS_KEYS: run `contextd rekey` with that key as ENCRYPTION_KEY (server stopped), or set ENCRYPTION_KEY back to it", i+1)}
		}
	}
	return err
}

// storeKeyError explains a store that does not open with the configured
// key, naming the setting; other errors pass unchanged.
func storeKeyError(err error) error {
	switch {
	case errors.Is(err, sqlite.ErrWrongKey):
		return &configError{"ENCRYPTION_KEY", "does not decrypt the store in DATA_DIR (it was encrypted with another key; after a rotation the store must be re-encrypted with `contextd rekey` before the new key is set)"}
	case errors.Is(err, sqlite.ErrNotEncrypted):
		return &configError{"ENCRYPTION_KEY", "is set but the store in DATA_DIR is not encrypted: encrypt it first with `contextd rekey --new-key-file FILE` (server stopped), or unset ENCRYPTION_KEY"}
	case errors.Is(err, sqlite.ErrEncrypted):
		return &configError{"ENCRYPTION_KEY", "is not set but the store in DATA_DIR is encrypted (or not an SQLite file): set ENCRYPTION_KEY or ENCRYPTION_KEY_FILE to its key"}
	case errors.Is(err, atrest.ErrNoKey):
		return &configError{"ENCRYPTION_KEY", "is not set but the file is encrypted: set ENCRYPTION_KEY or ENCRYPTION_KEY_FILE to the key it was written with (" + err.Error() + ")"}
	case errors.Is(err, atrest.ErrWrongKey):
		return &configError{"ENCRYPTION_KEY", "neither it nor ENCRYPTION_PREVIOUS_KEYS decrypts the file: add the key it was written with to ENCRYPTION_PREVIOUS_KEYS (" + err.Error() + ")"}
	}
	return err
}
