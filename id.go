package contextd

import (
	"crypto/rand"
	"encoding/base32"
	"regexp"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns a new time-ordered, URL-safe identifier (a ULID).
func NewID(t time.Time) string {
	idMu.Lock()
	defer idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), idEntropy).String()
}

// idRe is what a client-supplied id may look like: URL-safe, 1..128 characters.
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$`)

// identRe is a tenant, user or session name: printable, no slashes, 1..128.
var identRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@:~-]{0,127}$`)

// ValidID reports whether s can be used as an id.
func ValidID(s string) bool { return idRe.MatchString(s) }
