//go:build !linux

package monitor

import (
	"errors"

	"github.com/contextd/contextd"
)

// readSystem has nothing to read outside Linux: the Go runtime's figures
// are all there is, and the notes say so.
func readSystem(st *contextd.SystemStats, dir string) {
	st.ResidentBytes, st.OpenFiles = -1, -1
	st.DiskPath = dir
	st.Notes = append(st.Notes, "resident memory, CPU, disk and network are measured on Linux only")
}

func diskSpace(string) (total, free int64, err error) {
	return 0, 0, errors.New("not measured on this platform")
}
