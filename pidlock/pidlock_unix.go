//go:build unix

package pidlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/platform"
)

// held is a held lock: the open, flock'ed PID file.
type held struct {
	f    int // descriptor
	dev  uint64
	ino  uint64
	size int64  // the record's length: 0 while empty
	rec  []byte // the record last written
}

func (h *held) fd() uintptr { return uintptr(h.f) }

func namedMutexName(Scope, string) string { return "" }
func pathMutexName(Scope, string) string  { return "" }

func pathErr(op, path string, err error) error {
	return &PathError{Op: op, Path: path, Err: err}
}

// checkDir refuses a directory that anyone may write to without the sticky
// bit: there another user could swap the PID file under us.
func (l *Lock) checkDir() error {
	return l.checkDirFor(l.cfg.mkdir)
}

// checkDirFor is checkDir creating a named lock's directory only with
// create: a query never creates anything.
func (l *Lock) checkDirFor(create bool) error {
	dir := filepath.Dir(l.path)
	if create {
		// A named lock's directory, in a directory other users share
		// (/run/lock, /tmp) for the user scope: every component is
		// checked, existing or made, before anything is opened in it.
		perm := os.FileMode(0o755)
		if l.cfg.scope == ScopeUser {
			perm = 0o700
		}
		if err := makeLockDir(dir, perm); err != nil {
			return err // *PathError naming the refused component
		}
	}
	var st unix.Stat_t
	err := unix.Stat(dir, &st)
	if err != nil {
		return pathErr("lock", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return pathErr("lock", dir, errors.New("not a directory"))
	}
	if st.Mode&0o002 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return pathErr("lock", dir, errors.New("directory is world-writable without the sticky bit"))
	}
	return nil
}

// open opens the PID file for locking and checks what it is. It never
// follows a symlink and never blocks on a FIFO.
func (l *Lock) open() (int, *unix.Stat_t, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(l.path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o644)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, nil, pathErr("lock", l.path, describeOpenErr(l.path, err))
	}
	st := new(unix.Stat_t)
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		return -1, nil, pathErr("lock", l.path, err)
	}
	if err := checkFile(st); err != nil {
		unix.Close(fd)
		return -1, nil, pathErr("lock", l.path, err)
	}
	euid := uint32(os.Geteuid())
	if err := checkOwner(l.path, st, euid); err != nil {
		unix.Close(fd)
		return -1, nil, pathErr("lock", l.path, err)
	}
	if st.Uid == euid && st.Mode&0o7777 != 0o644 {
		// Created under a restrictive umask: make the record readable to
		// everyone, as a PID file is.
		_ = unix.Fchmod(fd, 0o644)
	}
	return fd, st, nil
}

// describeOpenErr turns the errors of open(2) on a hostile path into words.
func describeOpenErr(path string, err error) error {
	switch err {
	case unix.ELOOP, unix.EMLINK: // EMLINK: FreeBSD's answer to O_NOFOLLOW
		return errors.New("is a symlink; refusing to follow it")
	case unix.EISDIR:
		return errors.New("is a directory, not a regular file")
	case unix.ENXIO, unix.EOPNOTSUPP:
		return errors.New("is not a regular file")
	}
	return err
}

// checkOwner refuses a file owned by neither this user (effective uid me)
// nor root. Root may also use a file owned by another user when that user
// owns the directory too: the lock of a service that runs as that user, in
// the directory its service manager made for it (systemd's
// RuntimeDirectory= with User=).
func checkOwner(path string, st *unix.Stat_t, me uint32) error {
	uid := st.Uid
	if uid == 0 || uid == me {
		return nil
	}
	if me == 0 {
		var dir unix.Stat_t
		if unix.Stat(filepath.Dir(path), &dir) == nil && dir.Uid == uid {
			return nil
		}
	}
	return fmt.Errorf("is owned by uid %d, neither this user nor root", uid)
}

// checkFile refuses anything but a regular file with one link.
func checkFile(st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return errors.New("is a directory, not a regular file")
	case unix.S_IFIFO:
		return errors.New("is a FIFO, not a regular file")
	default:
		return errors.New("is not a regular file")
	}
	if st.Nlink > 1 {
		// Another name for the same data: truncating the record would
		// truncate that file too.
		return hardLinks(uint64(st.Nlink))
	}
	return nil
}

func hardLinks(n uint64) error {
	return fmt.Errorf("has %d hard links; a lock file has one, so this is not a lock file", n)
}

// checkContent refuses a file whose data is neither empty nor a record:
// it is not a lock file, and taking it would overwrite someone's data.
func checkContent(fd int) error {
	r := record{fd: fd}
	if err := r.read(); err != nil {
		return err
	}
	if len(r.raw) != 0 && r.holder == nil {
		return errNotRecord
	}
	return nil
}

// acquire takes the lock: one attempt, or with block, attempts until it is
// free or ctx is done.
func (l *Lock) acquire(ctx context.Context, block bool) (*held, error) {
	if err := l.checkDir(); err != nil {
		return nil, err
	}
	if !block {
		return l.tryOnce()
	}
	return wait(ctx, l.tryOnce)
}

// tryOnce makes one attempt to take the lock.
func (l *Lock) tryOnce() (*held, error) {
	// The loop runs again only when a holder released (and removed) the
	// file between our open and our flock: then we locked a file that is no
	// longer the lock, and must start over on the new one.
	for range 1000 {
		fd, st, err := l.open()
		if err != nil {
			return nil, err
		}
		for {
			err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
			if err != unix.EINTR {
				break
			}
		}
		if err == unix.EWOULDBLOCK {
			unix.Close(fd)
			return nil, l.lockedError()
		}
		if err != nil {
			unix.Close(fd)
			return nil, pathErr("flock", l.path, err)
		}
		var cur unix.Stat_t
		err = unix.Lstat(l.path, &cur)
		if err != nil || cur.Dev != st.Dev || cur.Ino != st.Ino {
			unix.Close(fd)
			if err != nil && err != unix.ENOENT {
				return nil, pathErr("lock", l.path, err)
			}
			continue
		}
		h := &held{f: fd, dev: uint64(st.Dev), ino: st.Ino, size: st.Size}
		// Clear whatever a dead holder left, at once, so that no reader
		// takes its record for ours; but only a record: anything else is
		// someone's file, not a lock, and is left as it is.
		if h.size != 0 {
			if err := checkContent(fd); err != nil {
				unix.Close(fd)
				return nil, pathErr("lock", l.path, err)
			}
			if err := unix.Ftruncate(fd, 0); err != nil {
				unix.Close(fd)
				return nil, pathErr("truncate", l.path, err)
			}
			h.size = 0
		}
		if !l.cfg.deferRecord {
			if err := l.writeRecord(h, os.Getpid()); err != nil {
				l.release(h)
				return nil, err
			}
		}
		return h, nil
	}
	return nil, pathErr("lock", l.path, errors.New("the file keeps being replaced"))
}

// writeRecord replaces the record with one naming pid. The file is
// truncated first and the record written in one pwrite, so a reader sees
// an empty file or the whole record.
func (l *Lock) writeRecord(h *held, pid int) error {
	rec := formatRecord(pid, recordName(pid))
	if h.size != 0 {
		if err := unix.Ftruncate(h.f, 0); err != nil {
			return pathErr("write record", l.path, err)
		}
		h.size = 0
	}
	n, err := unix.Pwrite(h.f, rec, 0)
	if n > 0 {
		h.size = int64(n)
		h.rec = rec[:n]
	}
	if err == nil && n != len(rec) {
		err = errors.New("short write")
	}
	if err != nil {
		return pathErr("write record", l.path, err)
	}
	return nil
}

// release empties the record, if the path still names the locked file,
// and then closes it, which releases the lock. The file itself stays: a
// file that is never removed cannot be removed under a concurrent
// acquirer (see tryOnce), and creating and removing it on every run costs
// more than the rest of the lock on a journalling file system.
func (l *Lock) release(h *held) error {
	var err error
	var cur unix.Stat_t
	if h.size != 0 && unix.Lstat(l.path, &cur) == nil && uint64(cur.Dev) == h.dev && cur.Ino == h.ino {
		if e := unix.Ftruncate(h.f, 0); e != nil {
			err = pathErr("unlock", l.path, e)
		}
	}
	if e := unix.Close(h.f); e != nil && err == nil {
		err = pathErr("unlock", l.path, e)
	}
	return err
}

// releaseInherited releases a lock whose descriptor may have been copied
// to other processes: it closes its own copy, then empties the record only
// if it can take the lock again at once on the same file, which proves no
// copy is left. Taking it again makes a starter that comes in that
// instant fail as if the lock were still held, as one would while the
// record is emptied under the lock in release.
func (l *Lock) releaseInherited(h *held) error {
	if err := unix.Close(h.f); err != nil {
		return pathErr("unlock", l.path, err)
	}
	if h.size == 0 {
		return nil
	}
	fd, err := unix.Open(l.path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil // gone or replaced: nothing of ours to empty
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || uint64(st.Dev) != h.dev || st.Ino != h.ino {
		return nil
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	r := record{fd: fd}
	if err == unix.EWOULDBLOCK {
		if r.read() == nil && string(r.raw) == string(h.rec) {
			return pathErr("unlock", l.path, ErrStillHeld)
		}
		return nil // a new holder's
	}
	if err != nil {
		return pathErr("unlock", l.path, err)
	}
	// Ours again: empty what we (or a holder since, now dead) wrote.
	if r.read() == nil && r.holder != nil {
		if err := unix.Ftruncate(fd, 0); err != nil {
			return pathErr("unlock", l.path, err)
		}
	}
	return nil
}

// lockedError builds the error for a lock held by someone else. An empty
// record is a holder still starting; a record whose process does not hold
// the lock (a command that exited and left the lock to a child it forked)
// is replaced by the process the kernel says holds it, where it can tell.
func (l *Lock) lockedError() error {
	e := &LockedError{Path: l.path}
	if rec, err := l.readRecord(); err == nil && len(rec.raw) != 0 {
		st := resolve(rec, true)
		e.Holder = st.Holder
	}
	return e
}

// resolve is the state of a lock whose record r was read and whose file
// is locked or not. A record counts if its process exists and did not
// start after the record was written. Where the kernel says who holds a
// lock (Linux), a record that does not count (its command exited and left
// the lock to a child it forked) and data that is not a record (another
// program's flock) give way to the process that does hold the lock.
//
// The kernel is asked only then: reading a process's /proc/PID/fdinfo
// holds a reference to its open files for a moment, which can delay the
// release of its lock, so a query of an ordinary holder, or of one still
// starting, must not do it, lest a starter racing with a release fail.
func resolve(r *record, locked bool) Status {
	switch {
	case !locked && len(r.raw) != 0:
		return Status{State: Stale, Holder: r.holder}
	case !locked:
		return Status{State: NotRunning}
	case len(r.raw) == 0:
		// A holder that has not written its record yet.
		return Status{State: Starting}
	case r.holder != nil && plausible(r.holder):
		return Status{State: Running, Holder: r.holder}
	}
	if canListHolders {
		if hs, _ := holdersOf(r.dev, r.ino); len(hs) > 0 {
			h := hs[0]
			if r.holder != nil {
				// The record's process left the lock to another: name
				// that one, holding the lock taken when the record was
				// written.
				h.Since = r.holder.Since
			}
			return Status{State: Running, Holder: &h}
		}
	}
	// Locked, and the record names a process that is gone or started
	// after it was written: a dead holder's leftovers that the new holder
	// has not cleared yet.
	return Status{State: Starting}
}

// holdersOf lists the holders of the file dev/ino, earliest started first.
func holdersOf(dev, ino uint64) ([]Holder, error) {
	pids, err := listHolders(dev, ino)
	if err != nil {
		return nil, err
	}
	hs := make([]Holder, 0, len(pids))
	for _, pid := range pids {
		h := Holder{PID: pid, Process: recordName(pid)}
		if t, err := platform.ProcessStartTime(pid); err == nil {
			h.Since = t
		}
		hs = append(hs, h)
	}
	sort.SliceStable(hs, func(i, j int) bool {
		if !hs[i].Since.Equal(hs[j].Since) {
			return hs[i].Since.Before(hs[j].Since)
		}
		return hs[i].PID < hs[j].PID
	})
	return hs, nil
}

// holdsLock implements HoldsLock.
func (l *Lock) holdsLock(pid int) bool {
	var st unix.Stat_t
	if unix.Stat(l.path, &st) != nil {
		return false
	}
	return holdsLock(pid, uint64(st.Dev), st.Ino)
}

// holders implements Holders.
func (l *Lock) holders() ([]Holder, error) {
	r, err := l.readRecord()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	hs, err := holdersOf(r.dev, r.ino)
	if err != nil {
		return nil, pathErr("holders", l.path, err)
	}
	return hs, nil
}

// record is what a reader read.
type record struct {
	fd     int
	dev    uint64
	ino    uint64
	nlink  uint64
	holder *Holder // nil: no valid record
	raw    []byte
}

// readRecord opens the PID file read-only (never following a symlink,
// never blocking on a FIFO) and parses it. The returned record's fd is
// closed.
func (l *Lock) readRecord() (*record, error) {
	r, err := l.openRecord()
	if err != nil {
		return nil, err
	}
	unix.Close(r.fd)
	return r, nil
}

// openRecord is readRecord leaving the descriptor open. A missing file is
// reported as an error matching fs.ErrNotExist.
func (l *Lock) openRecord() (*record, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(l.path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if err == unix.ENOENT {
			return nil, pathErr("read record", l.path, os.ErrNotExist)
		}
		return nil, pathErr("read record", l.path, describeOpenErr(l.path, err))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, pathErr("read record", l.path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, pathErr("read record", l.path, checkFile(&st))
	}
	r := &record{fd: fd, dev: uint64(st.Dev), ino: st.Ino, nlink: uint64(st.Nlink)}
	if err := r.read(); err != nil {
		unix.Close(fd)
		return nil, pathErr("read record", l.path, err)
	}
	return r, nil
}

// read (re)reads and parses the record from r.fd.
func (r *record) read() error {
	buf := make([]byte, maxRecord+1)
	n := 0
	for n < len(buf) {
		m, err := unix.Pread(r.fd, buf[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if m == 0 {
			break
		}
		n += m
	}
	r.raw = buf[:n]
	r.holder = nil
	pid, name, err := parseRecord(r.raw)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(r.fd, &st); err != nil {
		return err
	}
	sec, nsec := st.Mtim.Unix()
	r.holder = &Holder{PID: pid, Process: name, Since: time.Unix(sec, nsec)}
	return nil
}

// query implements Query: read the record, ask the kernel whether the file
// is locked, then read the record again; if it changed, look again.
func (l *Lock) query() (Status, error) {
	// A directory a start would refuse is refused here too; a missing one
	// holds no lock.
	if err := l.checkDirFor(false); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return Status{State: NotRunning}, nil
		}
		return Status{}, err
	}
	for range 100 {
		r, err := l.openRecord()
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return Status{State: NotRunning}, nil
			}
			return Status{}, err
		}
		locked, err := isLocked(r.fd, r.dev, r.ino)
		if err != nil {
			unix.Close(r.fd)
			return Status{}, pathErr("query", l.path, err)
		}
		before := string(r.raw)
		err = r.read()
		unix.Close(r.fd)
		if err != nil {
			return Status{}, pathErr("query", l.path, err)
		}
		if string(r.raw) != before {
			continue // the holder wrote its record while we looked
		}
		var cur unix.Stat_t
		if unix.Lstat(l.path, &cur) != nil || uint64(cur.Dev) != r.dev || cur.Ino != r.ino {
			continue // released and replaced while we looked
		}
		if !locked && len(r.raw) != 0 && r.holder == nil {
			// Nobody holds it and it is not a record: not a lock file.
			return Status{}, pathErr("query", l.path, errNotRecord)
		}
		if r.nlink > 1 {
			return Status{}, pathErr("query", l.path, hardLinks(r.nlink))
		}
		return resolve(r, locked), nil
	}
	return Status{}, pathErr("query", l.path, errors.New("the record keeps changing"))
}

// backoff is the polling schedule of Lock: it doubles from 1 ms to 50 ms.
type backoff time.Duration

func (b *backoff) next() time.Duration {
	d := time.Duration(*b)
	switch {
	case d <= 0:
		d = time.Millisecond
	case d < 50*time.Millisecond:
		d *= 2
	}
	if d > 50*time.Millisecond {
		d = 50 * time.Millisecond
	}
	*b = backoff(d)
	return d
}

// wait polls try until it succeeds, fails with an error other than
// ErrLocked, or ctx is done. flock(2) cannot be interrupted once it blocks
// (Go restarts the call after a signal), so a blocking flock would leave a
// thread stuck after a cancel; polling leaves nothing behind.
func wait(ctx context.Context, try func() (*held, error)) (*held, error) {
	var b backoff
	var t *time.Timer
	for {
		h, err := try()
		if err == nil || !errors.Is(err, ErrLocked) {
			return h, err
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
		d := b.next()
		if t == nil {
			t = time.NewTimer(d)
			defer t.Stop()
		} else {
			t.Reset(d)
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}
