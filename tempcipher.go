package contextd

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"io"
)

// tempCipher encrypts one temporary file (the spill files of Snapshot) with
// AES-256-CTR under a random key that lives only in this process's memory,
// so that a snapshot of an encrypted store leaves no plaintext copy on disk
// while it runs, whatever the disk keeps of deleted files afterwards. It is
// confidentiality only, as SQLite's temporary files under an encrypting
// VFS: the file is read back by the process that wrote it, minutes later at
// most. It costs about a memory copy, so it is always on.
type tempCipher struct {
	block cipher.Block
	iv    [aes.BlockSize]byte
}

func newTempCipher() (*tempCipher, error) {
	var key [32]byte
	t := &tempCipher{}
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(t.iv[:]); err != nil {
		return nil, err
	}
	var err error
	t.block, err = aes.NewCipher(key[:])
	return t, err
}

// writer encrypts into w from the start of the file.
func (t *tempCipher) writer(w io.Writer) io.Writer {
	return cipher.StreamWriter{S: cipher.NewCTR(t.block, t.iv[:]), W: w}
}

// reader decrypts r read from the start of the file.
func (t *tempCipher) reader(r io.Reader) io.Reader {
	return cipher.StreamReader{S: cipher.NewCTR(t.block, t.iv[:]), R: r}
}
