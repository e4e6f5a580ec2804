//go:build linux

package platform

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/solehq/sole/internal/procfs"
)

const hasSystemd = true

const maxPid = math.MaxInt32 // pid_t

// userHZ is the unit of the clock-tick fields of /proc (sysconf(_SC_CLK_TCK)):
// USER_HZ, 100 on every architecture Go supports.
const userHZ = 100

func processName(pid int) (string, error) {
	b, err := readProc(pid, "comm")
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b, []byte("\n"))), nil
}

func processStartTime(pid int) (time.Time, error) {
	b, err := readProc(pid, "stat")
	if err != nil {
		return time.Time{}, err
	}
	ticks, err := parseStat(b)
	if err != nil {
		return time.Time{}, &fs.PathError{Op: "parse", Path: procPath(pid, "stat"), Err: err}
	}
	const statPath = "/proc/stat"
	b, err = procfs.ReadFile(statPath)
	if err != nil {
		return time.Time{}, err
	}
	btime, err := parseBtime(b)
	if err != nil {
		return time.Time{}, &fs.PathError{Op: "parse", Path: statPath, Err: err}
	}
	t, err := startTime(btime, ticks)
	if err != nil {
		return time.Time{}, &fs.PathError{Op: "parse", Path: procPath(pid, "stat"), Err: err}
	}
	return t, nil
}

func procPath(pid int, file string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// readProc reads /proc/PID/file. An error matches ErrNoProcess only when
// kill(2) confirms that no process has that pid, so that a process hidden by
// the hidepid option of /proc, or a missing /proc, is not taken for a dead
// one.
func readProc(pid int, file string) ([]byte, error) {
	b, err := procfs.ReadFile(procPath(pid, file))
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
		return nil, err
	}
	if kerr := syscall.Kill(pid, 0); kerr == syscall.ESRCH {
		return nil, noProcess(pid)
	}
	return nil, fmt.Errorf("pid %d exists but is not visible in /proc: %w", pid, err)
}

// statInfo is what sole reads from /proc/PID/stat.
type statInfo struct {
	ppid, pgrp int    // fields 4 and 5
	startTicks uint64 // field 22, clock ticks since boot
}

// parseStat returns the starttime field (field 22, clock ticks since boot)
// of the contents of /proc/PID/stat; see parseStatInfo.
func parseStat(b []byte) (startTicks uint64, err error) {
	si, err := parseStatInfo(b)
	return si.startTicks, err
}

// parseStatInfo parses the contents of /proc/PID/stat, which are
//
//	pid (comm) state ppid pgrp ... starttime ...
//
// comm is arbitrary (up to 15 bytes, and it may contain spaces, parentheses
// and newlines), so the fields are counted from the last ')'.
func parseStatInfo(b []byte) (statInfo, error) {
	var si statInfo
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return si, errors.New("no parenthesized command name")
	}
	pid := bytes.TrimSuffix(b[:open], []byte(" "))
	if len(pid) == 0 || !isDigits(pid) {
		return si, fmt.Errorf("invalid pid field %q", pid)
	}
	// Fields 3 (state) onward; starttime is field 22.
	fields := bytes.Fields(b[end+1:])
	const i = 22 - 3
	if len(fields) <= i {
		return si, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), i+1)
	}
	num := func(k int, name string, bits int) (uint64, error) {
		f := fields[k-3]
		if !isDigits(f) {
			return 0, fmt.Errorf("invalid %s field %q", name, f)
		}
		n, err := strconv.ParseUint(string(f), 10, bits)
		if err != nil {
			return 0, fmt.Errorf("invalid %s field %q: %w", name, f, err)
		}
		return n, nil
	}
	start, err := num(22, "starttime", 64)
	if err != nil {
		return si, err
	}
	ppid, err := num(4, "ppid", 31)
	if err != nil {
		return si, err
	}
	pgrp, err := num(5, "pgrp", 31)
	if err != nil {
		return si, err
	}
	si.startTicks, si.ppid, si.pgrp = start, int(ppid), int(pgrp)
	return si, nil
}

func processFamily(pid int) (ppid, pgid int, err error) {
	b, err := readProc(pid, "stat")
	if err != nil {
		return 0, 0, err
	}
	si, err := parseStatInfo(b)
	if err != nil {
		return 0, 0, &fs.PathError{Op: "parse", Path: procPath(pid, "stat"), Err: err}
	}
	return si.ppid, si.pgrp, nil
}

// parseBtime returns the boot time, in seconds since the Unix epoch, from
// the "btime N" line of the contents of /proc/stat.
func parseBtime(b []byte) (int64, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		rest, ok := bytes.CutPrefix(line, []byte("btime "))
		if !ok {
			continue
		}
		v := bytes.TrimSpace(rest)
		if !isDigits(v) {
			return 0, fmt.Errorf("invalid btime %q", v)
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid btime %q: %w", v, err)
		}
		return n, nil
	}
	return 0, errors.New("no btime line")
}

// startTime is the wall-clock time ticks clock ticks after boot time btime.
func startTime(btime int64, ticks uint64) (time.Time, error) {
	// Far beyond any real boot time and uptime (about 35000 years each),
	// and far within what time.Time represents.
	const limit = 1 << 40
	sec := ticks / userHZ
	if btime < 0 || btime > limit || sec > limit {
		return time.Time{}, fmt.Errorf("start time out of range: btime %d, starttime %d", btime, ticks)
	}
	nsec := int64(ticks%userHZ) * int64(time.Second/userHZ)
	return time.Unix(btime+int64(sec), nsec), nil
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func systemLockDir() (string, error) { return "/run/sole", nil }

func serviceManager() Manager {
	// sd_booted(3): "/run/systemd/system/" exists and is a directory.
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		return ManagerSystemd
	}
	return ManagerNone
}
