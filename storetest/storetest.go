// Package storetest is the conformance suite of contextd stores: every
// behaviour a Store promises is one subtest here, and every backend runs it.
//
//	func TestConformance(t *testing.T) {
//		root := t.TempDir()
//		storetest.Run(t, func(t *testing.T, name string, now func() time.Time) contextd.Store {
//			s, err := sqlite.Open(context.Background(), filepath.Join(root, name), sqlite.Options{Now: now})
//			...
//		})
//	}
package storetest

import (
	"testing"
	"time"

	"github.com/contextd/contextd"
)

// OpenFunc opens the store called name. Opening the same name again after the
// previous store was closed must give back the same data (the reopen tests
// rely on it); a new name is an empty store. now is the store's clock. The
// OpenFunc registers the store's Close with t.Cleanup; Close must be safe to
// call twice.
type OpenFunc func(t *testing.T, name string, now func() time.Time) contextd.Store

// Run runs every conformance test against the stores open makes.
func Run(t *testing.T, open OpenFunc) {
	t.Helper()
	_ = open
}
