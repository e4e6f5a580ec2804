//go:build unix

package runtime

import (
	"log/slog"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// stderrIsJournal reports whether stderr is the journal stream systemd
// named in JOURNAL_STREAM ("DEVICE:INODE").
func stderrIsJournal() bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	var st unix.Stat_t
	if err1 != nil || err2 != nil || unix.Fstat(2, &st) != nil {
		return false
	}
	return uint64(st.Dev) == d && st.Ino == i
}

// serviceLogger is for Windows services' event log; elsewhere the default
// logger (the journal, or the terminal) is right.
func serviceLogger(string) *slog.Logger { return nil }
