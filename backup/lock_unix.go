//go:build unix

package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/contextd/contextd"
)

// LockFile is the file of a data directory that a running server holds
// locked (flock), so that a restore refuses to replace a store in use.
const LockFile = "contextd.lock"

// LockDir takes the lock of data directory dir without waiting; it is
// EUNAVAILABLE when another process holds it. The lock goes with the
// process, even when it is killed. release gives it back.
func LockDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, contextd.Errorf(contextd.EUNAVAILABLE, "the store in %s is in use by another contextd process (stop the server first)", dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
