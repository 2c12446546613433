//go:build !unix

package backup

// LockFile is the file of a data directory that a running server holds
// locked; on this platform no lock is taken.
const LockFile = "contextd.lock"

// LockDir takes no lock on this platform (no flock): a restore cannot tell
// whether a server uses the directory.
func LockDir(dir string) (release func(), err error) { return func() {}, nil }
