// Package pidlock makes a program run as exactly one instance.
//
// A Lock names one single-instance lock. On Linux, macOS and the other Unix
// systems it is an exclusive flock(2) held for the holder's whole life on the
// PID file itself: the kernel releases it when the holder dies, so a crash
// never leaves a stale lock and a reused PID can never make a dead holder
// look alive. Liveness is decided by the lock, never by kill(pid, 0).
//
// On Windows it is a named kernel mutex (Local\ or Global\ by scope), owned
// by one locked OS thread for as long as the lock is held; the PID file is
// still written beside it so that the holder can be inspected.
//
// The PID file holds exactly two lines: the holder's PID and its process
// name as the kernel reports it (Linux comm). It is truncated as soon as the
// lock is taken and rewritten in a single write, so a reader sees a complete
// record, none, or (while the lock is held but the record not yet written) a
// holder that is "starting". On release the record is emptied while the
// lock is still held; the file itself is never removed by pidlock, and every
// acquirer checks, after locking, that the path still names the file it
// locked, so neither a release nor a file removed by someone else lets two
// holders overlap.
//
// See docs/locking.md for the protocol and what it does not guarantee.
package pidlock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/solehq/sole/platform"
)

// ErrLocked is matched by the error of TryLock (and of Lock once its wait is
// over) when another process holds the lock:
//
//	if errors.Is(err, pidlock.ErrLocked) { ... }
//
// The error is always a *LockedError, which carries the holder.
var ErrLocked = errors.New("already locked")

// ErrNotHeld is returned by Unlock and SetHolder when this Lock is not held.
var ErrNotHeld = errors.New("lock not held")

// ErrStillHeld is matched by the error of Unlock when this Lock let go of
// the lock but other processes still hold it through copies of its
// descriptor (see Fd): a child that inherited it and outlived the process
// it was handed to. The record is left naming the process it named, and
// the lock is free once the last copy is closed.
var ErrStillHeld = errors.New("still held through an inherited descriptor")

// Scope selects the default directory of a named lock and, on Windows, the
// kernel namespace of its mutex (Local\ for ScopeUser, Global\ for
// ScopeSystem).
type Scope = platform.Scope

// The scopes.
const (
	ScopeUser   = platform.ScopeUser
	ScopeSystem = platform.ScopeSystem
)

// Holder describes the process named by a lock's record.
type Holder struct {
	PID     int       // the holder's process ID (line 1 of the PID file)
	Process string    // its process name as the kernel reports it (line 2)
	Since   time.Time // when the record was written: about when the lock was taken
}

// LockedError is the error of a lock attempt that found the lock held. It
// wraps ErrLocked.
type LockedError struct {
	Path   string  // the PID file
	Holder *Holder // nil when the holder has not written its record yet ("starting")
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return e.Path + ": already locked (holder starting)"
	}
	return fmt.Sprintf("%s: already locked by pid %d (%s) since %s",
		e.Path, e.Holder.PID, e.Holder.Process, e.Holder.Since.Format(time.RFC3339))
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// PathError is the error for a lock path that pidlock refuses to use (a
// symlink, not a regular file, a world-writable directory without the sticky
// bit, a file owned by another non-root user) or cannot open or lock. Op says
// what was being done; Err the reason.
type PathError = fs.PathError

// Option configures a Lock.
type Option func(*config)

type config struct {
	scope       Scope
	scopeSet    bool
	deferRecord bool
	mkdir       bool
}

// WithScope sets the scope (default platform.DefaultScope(): system for
// root, user otherwise). For a named lock it chooses the directory; on
// Windows it chooses the mutex namespace for every lock.
func WithScope(s Scope) Option {
	return func(c *config) { c.scope, c.scopeSet = s, true }
}

// DeferRecord makes the lock leave its record empty after locking, until
// SetHolder writes it. Readers meanwhile see the holder as "starting". This
// is for a holder that runs the real work in a child process and wants the
// record to name the child.
func DeferRecord() Option {
	return func(c *config) { c.deferRecord = true }
}

// Lock is one single-instance lock. The zero value is not usable; create one
// with New or Named. A Lock is safe for use by several goroutines.
type Lock struct {
	path  string
	name  string // the lock's name: Named's argument, or the path's base name
	mutex string // Windows: the mutex name
	cfg   config

	mu   sync.Mutex
	held *held // non-nil while held
}

// New returns a Lock on the PID file path. Nothing is opened until TryLock or
// Lock. The path's directory must exist. On Windows the mutex name is derived
// from the absolute path.
func New(path string, opts ...Option) (*Lock, error) {
	if path == "" {
		return nil, errors.New("pidlock: empty lock path")
	}
	if strings.IndexByte(path, 0) >= 0 {
		return nil, &PathError{Op: "lock", Path: path, Err: errors.New("path contains a NUL byte")}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &PathError{Op: "lock", Path: path, Err: err}
	}
	l := &Lock{path: abs, cfg: newConfig(opts)}
	l.name = strings.TrimSuffix(filepath.Base(abs), ".pid")
	l.mutex = pathMutexName(l.cfg.scope, abs)
	return l, nil
}

// Named returns the Lock called name in the default directory of its scope
// (platform.LockDir), in a directory of its own: for example
// /run/sole/NAME/NAME.pid for ScopeSystem on Linux. The directory of its
// own is what a service manager creates for one service (systemd's
// RuntimeDirectory=sole/NAME), owned by the service's user, so that
// services running as different users never share a writable directory.
// The directories are created (0755 for system, 0700 for user) when the
// lock is taken. A name must be 1 to 200 bytes of printable characters
// without '/', '\\' or a leading '.'.
func Named(name string, opts ...Option) (*Lock, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	cfg := newConfig(opts)
	dir, err := platform.LockDir(cfg.scope)
	if err != nil {
		return nil, fmt.Errorf("pidlock: lock directory: %w", err)
	}
	cfg.mkdir = true
	return &Lock{
		path:  filepath.Join(dir, name, name+".pid"),
		name:  name,
		mutex: namedMutexName(cfg.scope, name),
		cfg:   cfg,
	}, nil
}

// ValidName reports whether name can name a lock, with an error saying why
// not.
func ValidName(name string) error {
	bad := func(why string) error { return fmt.Errorf("invalid lock name %q: %s", name, why) }
	switch {
	case name == "":
		return errors.New("invalid lock name: empty")
	case len(name) > 200:
		return bad("longer than 200 bytes")
	case name[0] == '.':
		return bad("starts with '.'")
	}
	for _, r := range name {
		switch {
		case r == '/':
			return bad("contains '/'")
		case r == '\\':
			return bad("contains a backslash")
		case r < 0x20 || r == 0x7f || r == 0xfffd:
			return bad("contains a control or invalid character")
		}
	}
	return nil
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if !c.scopeSet {
		c.scope = platform.DefaultScope()
	}
	return c
}

// Scope returns the lock's scope.
func (l *Lock) Scope() Scope { return l.cfg.scope }

// Path returns the PID file's path.
func (l *Lock) Path() string { return l.path }

// Name returns the lock's name: the argument of Named, or for New the base
// name of the path without a ".pid" suffix.
func (l *Lock) Name() string { return l.name }

// TryLock takes the lock if it is free and returns at once. Its error is:
//
//   - nil: the lock is held by this Lock, and (unless DeferRecord was given)
//     the record names this process;
//   - a *LockedError wrapping ErrLocked: another process holds it;
//   - a *PathError: the path was refused or could not be opened or locked;
//   - an error saying the Lock is already held by this Lock.
func (l *Lock) TryLock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held != nil {
		return fmt.Errorf("pidlock: %s: already held by this process", l.path)
	}
	h, err := l.acquire(context.Background(), false)
	if err != nil {
		return err
	}
	l.held = h
	return nil
}

// Lock takes the lock, waiting until it is free or ctx is done. When ctx is
// done first it returns a *LockedError (wrapping ErrLocked) joined with
// ctx.Err(), so both errors.Is(err, ErrLocked) and
// errors.Is(err, context.DeadlineExceeded) (or context.Canceled) hold. No
// goroutine or thread is left waiting after Lock returns. Other errors are
// those of TryLock.
func (l *Lock) Lock(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held != nil {
		return fmt.Errorf("pidlock: %s: already held by this process", l.path)
	}
	h, err := l.acquire(ctx, true)
	if err != nil {
		return err
	}
	l.held = h
	return nil
}

// Unlock empties the record and releases the lock. It returns ErrNotHeld
// when the lock is not held. The record is emptied before the lock is
// released, and only if the path still names the file this Lock locked; the
// empty file stays, which readers take as "not running".
// A process that handed copies of the descriptor (see Fd) to others that
// may still hold them uses UnlockInherited instead.
func (l *Lock) Unlock() error {
	return l.unlockWith(l.release)
}

// unlockWith lets go of the lock with release.
func (l *Lock) unlockWith(release func(*held) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return ErrNotHeld
	}
	err := release(l.held)
	l.held = nil
	return err
}

// UnlockInherited releases a lock whose descriptor was handed to other
// processes (see Fd) that may still hold copies of it, which a process
// cannot see. It closes its descriptor first and empties the record only
// if it can then take the lock again at once. If it cannot, and the record
// is still the one this Lock wrote, others hold the lock through inherited
// copies: the record stays, naming its process, and the error matches
// ErrStillHeld. If the record changed, a new holder took the lock in
// between, and the error is nil. Between the close and the new attempt a
// reader may see the lock free with the record still there (Stale), and a
// starter in that instant may find the lock taken.
func (l *Lock) UnlockInherited() error {
	return l.unlockWith(l.releaseInherited)
}

// SetHolder rewrites the record to name process pid (for example a child
// that runs the real work while this process holds the lock for it). The
// process name is read from the kernel; if it cannot be, the record names
// the process "?". It returns ErrNotHeld when the lock is not held.
func (l *Lock) SetHolder(pid int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return ErrNotHeld
	}
	return l.writeRecord(l.held, pid)
}

// Held reports whether this Lock holds the lock.
func (l *Lock) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held != nil
}

// Fd returns the descriptor of the locked PID file while the lock is held,
// and ^uintptr(0) otherwise. On Unix a child process that inherits it keeps
// the lock held until every copy is closed; that is how `sole run` keeps its
// command protected even if sole itself is killed. On Windows it returns
// ^uintptr(0): mutex ownership cannot be inherited.
func (l *Lock) Fd() uintptr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return ^uintptr(0)
	}
	return l.held.fd()
}

// State is what a query found.
type State int

// The states of a lock, as Query reports them.
const (
	// NotRunning: nobody holds the lock and there is no record.
	NotRunning State = iota
	// Stale: nobody holds the lock, but a record is left (its holder died
	// without releasing, e.g. it was killed). The next TryLock succeeds.
	Stale
	// Starting: the lock is held and its holder has not written its record yet.
	Starting
	// Running: the lock is held; Status.Holder names the holder.
	Running
)

func (s State) String() string {
	switch s {
	case NotRunning:
		return "not running"
	case Stale:
		return "stale"
	case Starting:
		return "starting"
	case Running:
		return "running"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Status is the result of Query.
type Status struct {
	State State
	// Holder is who holds the lock when Running: the record, or, on Linux,
	// when the record's process is gone (a command that exited and left
	// the lock to a child it forked) or the file holds another program's
	// flock, the process that holds it, with Since the record's time (or
	// the process's start). When Stale it is the dead holder's record;
	// nil when Starting or NotRunning.
	Holder *Holder
}

// Query reports who holds the lock without taking it, even briefly, so that
// it can never make a concurrent TryLock fail. On Linux it reads the kernel's
// table of locks (/proc/locks); on macOS and the BSDs it asks fcntl(F_GETLK),
// which sees flock(2) locks there; on Windows it queries the mutex's state.
// The error is non-nil only when the state could not be determined: /proc
// is not mounted, the path is refused (as TryLock refuses it), or the file
// is not a lock file (it holds something other than a record, or has
// hard links).
func (l *Lock) Query() (Status, error) {
	return l.query()
}

// Holders returns every process that holds the lock, as the kernel
// reports it, earliest started first: the process that took it and every
// process that inherited its descriptor (a command run under `sole run`,
// that command's children, a daemon it forked). Each Holder's Since is the
// process's start time. The result is:
//
//   - holders, nil: those processes hold the lock;
//   - nil, nil: no process this one may inspect holds it (nobody, or only
//     processes of other users when this one is not privileged, or of
//     another PID namespace);
//   - an error matching errors.ErrUnsupported where the kernel does not say
//     (every system but Linux, which reads /proc/PID/fdinfo);
//   - a *PathError when the lock file cannot be read.
//
// Holders takes no lock; a process listed may exit at any moment, so a
// caller that signals one must check again, race-free, that it still
// holds the lock (as `sole run --replace` does with a pidfd).
func (l *Lock) Holders() ([]Holder, error) {
	return l.holders()
}

// HoldsLock reports whether process pid holds the lock now, as the kernel
// reports it (Linux); it is false where the kernel does not say.
func (l *Lock) HoldsLock(pid int) bool {
	return l.holdsLock(pid)
}

// The record: "PID\nNAME\n".

// maxRecord bounds what a reader reads. A longer file is not a record.
const maxRecord = 4096

// errNoRecord means the file holds no valid record.
var errNoRecord = errors.New("no record")

// errNotRecord refuses a lock file that holds something other than a
// record: it is someone's file, not a lock, and is never overwritten.
var errNotRecord = errors.New("holds data that is not a lock record (pid and process name), so sole leaves it alone")

// formatRecord returns the record naming pid and name. Bytes that would
// break the format (newline, NUL and other control bytes) become '?'.
func formatRecord(pid int, name string) []byte {
	if name == "" {
		name = "?"
	}
	b := make([]byte, 0, 24+len(name))
	b = appendInt(b, pid)
	b = append(b, '\n')
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f {
			c = '?'
		}
		b = append(b, c)
	}
	return append(b, '\n')
}

func appendInt(b []byte, n int) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

// parseRecord parses a record. It accepts exactly two lines, each ended by
// "\n" (or "\r\n"): a PID in canonical decimal (1 to 2^31-1, no sign, no
// leading zeros) and a non-empty name of at most 255 bytes with no control
// bytes. Anything else is errNoRecord wrapped with the reason.
func parseRecord(b []byte) (pid int, name string, err error) {
	bad := func(why string) (int, string, error) { return 0, "", fmt.Errorf("%w: %s", errNoRecord, why) }
	if len(b) == 0 {
		return bad("empty")
	}
	if len(b) > maxRecord {
		return bad("too long")
	}
	nl := indexByte(b, '\n')
	if nl < 0 {
		return bad("truncated")
	}
	line1, rest := trimCR(b[:nl]), b[nl+1:]
	nl = indexByte(rest, '\n')
	if nl < 0 {
		return bad("truncated")
	}
	line2 := trimCR(rest[:nl])
	if nl+1 != len(rest) {
		return bad("more than two lines")
	}
	if len(line1) == 0 || len(line1) > 10 {
		return bad("pid is not a number")
	}
	if line1[0] == '0' {
		return bad("pid is zero or has leading zeros")
	}
	for _, c := range line1 {
		if c < '0' || c > '9' {
			return bad("pid is not a number")
		}
		pid = pid*10 + int(c-'0')
	}
	if pid > 1<<31-1 {
		return bad("pid out of range")
	}
	if len(line2) == 0 || len(line2) > 255 {
		return bad("bad process name length")
	}
	for _, c := range line2 {
		if c < 0x20 || c == 0x7f {
			return bad("process name has a control byte")
		}
	}
	return pid, string(line2), nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// selfName is the name this process records for itself.
func selfName() string {
	if n, err := platform.ProcessName(os.Getpid()); err == nil && n != "" {
		return n
	}
	return filepath.Base(os.Args[0])
}

// recordName is the name recorded for pid.
func recordName(pid int) string {
	if pid == os.Getpid() {
		return selfName()
	}
	if n, err := platform.ProcessName(pid); err == nil && n != "" {
		return n
	}
	return "?"
}

// plausible reports whether h can be the current holder's record: its
// process exists and did not start after the record was written. It only
// tells a holder's fresh record from a dead holder's leftovers that the new
// holder has not cleared yet; liveness itself is the kernel's lock. When the
// platform cannot tell, the record is taken as it is.
func plausible(h *Holder) bool {
	start, err := platform.ProcessStartTime(h.PID)
	if errors.Is(err, platform.ErrNoProcess) {
		return false
	}
	if err != nil {
		return true
	}
	// Start times derived from clock ticks and a boot time in whole seconds
	// can be off by up to a second.
	return !start.After(h.Since.Add(2 * time.Second))
}
