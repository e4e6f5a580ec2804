//go:build windows

package runtime

func stderrIsJournal() bool { return false }
