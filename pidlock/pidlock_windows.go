//go:build windows

package pidlock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// held is a held lock: a thread that owns the mutex until release is
// closed, then releases it and reports on done.
type held struct {
	release chan struct{}
	done    chan error
}

func (h *held) fd() uintptr { return ^uintptr(0) }

func scopePrefix(s Scope) string {
	if s == ScopeSystem {
		return `Global\`
	}
	return `Local\`
}

func namedMutexName(s Scope, name string) string { return scopePrefix(s) + "sole." + name }

func pathMutexName(s Scope, path string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(path))))
	return scopePrefix(s) + "sole.path." + hex.EncodeToString(sum[:16])
}

func pathErr(op, path string, err error) error {
	return &PathError{Op: op, Path: path, Err: err}
}

// globalMutexSDDL is the security descriptor of a system-scope mutex:
// full access for SYSTEM and the administrators, and for every
// authenticated user and every service (LocalService, NetworkService,
// NT SERVICE\NAME) the right to wait on it and release it, which is all
// taking the lock needs. So, as with a lock file on Unix that everyone may
// open, a service running as LocalService and an administrator's
// `sole run --name NAME` see each other's lock as "already running"
// rather than failing with "access denied" on it. Windows applies it only
// to the process that creates the mutex; the others open it with just
// those rights (createMutex).
const globalMutexSDDL = "D:(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x100001;;;AU)(A;;0x100001;;;SU)"

// mutexRights are the rights a lock holder needs on its mutex.
const mutexRights = windows.SYNCHRONIZE | 0x0001 // MUTEX_MODIFY_STATE

// createMutex creates or opens the lock's mutex, asking only for the
// rights taking it needs, so that a mutex created by another account
// (globalMutexSDDL) opens too.
func createMutex(s Scope, name *uint16) (windows.Handle, error) {
	var sa *windows.SecurityAttributes
	if s == ScopeSystem {
		sd, err := windows.SecurityDescriptorFromString(globalMutexSDDL)
		if err != nil {
			return 0, fmt.Errorf("mutex security descriptor: %w", err)
		}
		sa = &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	}
	return windows.CreateMutexEx(sa, name, 0, mutexRights)
}

// errBusy is what the mutex thread reports when another owns the mutex.
var errBusy = errors.New("busy")

// acquire takes the mutex: at once, or with block, waiting until it is
// free or ctx is done. The wait is a kernel wait on the mutex and an
// event that ctx's end sets, so nothing is left waiting after a cancel.
func (l *Lock) acquire(ctx context.Context, block bool) (*held, error) {
	if err := l.checkDir(); err != nil {
		return nil, err
	}
	name, err := windows.UTF16PtrFromString(l.mutex)
	if err != nil {
		return nil, pathErr("lock", l.path, err)
	}
	var cancel windows.Handle
	if block {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(l.lockedError(), err)
		}
		cancel, err = windows.CreateEvent(nil, 1, 0, nil)
		if err != nil {
			return nil, pathErr("lock", l.path, err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ctx.Done():
				windows.SetEvent(cancel)
			case <-stop:
			}
		}()
		defer func() {
			close(stop)
			wg.Wait()
			windows.CloseHandle(cancel)
		}()
	}

	h := &held{release: make(chan struct{}), done: make(chan error, 1)}
	result := make(chan error, 1)
	go func() {
		// Mutex ownership belongs to a thread: keep this goroutine on one
		// for as long as the mutex is owned.
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		m, err := createMutex(l.cfg.scope, name)
		if m == 0 {
			result <- err
			return
		}
		// err may be ERROR_ALREADY_EXISTS with a valid handle: the mutex
		// exists, which alone says nothing (a status query or a releasing
		// holder may have it open). Ownership is decided by the wait.
		var ev uint32
		if cancel == 0 {
			ev, err = windows.WaitForSingleObject(m, 0)
		} else {
			ev, err = windows.WaitForMultipleObjects([]windows.Handle{m, cancel}, false, windows.INFINITE)
		}
		switch ev {
		case windows.WAIT_OBJECT_0, windows.WAIT_ABANDONED:
			// Owned. WAIT_ABANDONED: the last owner died holding it.
		case uint32(windows.WAIT_TIMEOUT), windows.WAIT_OBJECT_0 + 1:
			windows.CloseHandle(m)
			result <- errBusy
			return
		default:
			windows.CloseHandle(m)
			if err == nil {
				err = fmt.Errorf("wait returned %#x", ev)
			}
			result <- err
			return
		}
		result <- nil
		<-h.release
		err = windows.ReleaseMutex(m)
		windows.CloseHandle(m)
		h.done <- err
	}()
	if err := <-result; err != nil {
		if err == errBusy {
			le := l.lockedError()
			if block && ctx.Err() != nil {
				return nil, errors.Join(le, ctx.Err())
			}
			return nil, le
		}
		return nil, pathErr("lock", l.path, err)
	}
	if err := l.checkExisting(); err != nil {
		l.releaseMutex(h)
		return nil, err
	}
	if !l.cfg.deferRecord {
		if err := l.writeRecord(h, os.Getpid()); err != nil {
			l.release(h)
			return nil, err
		}
	} else {
		// Clear a dead holder's leftovers.
		if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.release(h)
			return nil, pathErr("lock", l.path, err)
		}
	}
	return h, nil
}

// checkDir makes the directory of a named lock.
func (l *Lock) checkDir() error {
	dir := filepath.Dir(l.path)
	if l.cfg.mkdir {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return pathErr("lock", dir, errors.New("not a directory"))
	}
	if fi, err := os.Lstat(l.path); err == nil && !fi.Mode().IsRegular() {
		return pathErr("lock", l.path, errors.New("is not a regular file"))
	}
	return nil
}

// writeRecord writes the record to a temporary file and renames it into
// place, so a reader sees the old record, none, or the new one whole.
func (l *Lock) writeRecord(_ *held, pid int) error {
	rec := formatRecord(pid, recordName(pid))
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, rec, 0o644); err != nil {
		return pathErr("write record", l.path, err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		os.Remove(tmp)
		return pathErr("write record", l.path, err)
	}
	return nil
}

// release removes the record while the mutex is still owned, then has the
// owning thread release it.
func (l *Lock) release(h *held) error {
	var err error
	if e := os.Remove(l.path); e != nil && !errors.Is(e, os.ErrNotExist) {
		err = pathErr("unlock", l.path, e)
	}
	if e := l.releaseMutex(h); e != nil && err == nil {
		err = e
	}
	return err
}

// releaseMutex lets go of the mutex and leaves the file alone.
func (l *Lock) releaseMutex(h *held) error {
	close(h.release)
	if e := <-h.done; e != nil {
		return pathErr("unlock", l.path, e)
	}
	return nil
}

func (l *Lock) lockedError() error {
	e := &LockedError{Path: l.path}
	if h, _, err := l.readRecord(); err == nil {
		e.Holder = h
	}
	return e
}

// readRecord reads and parses the record. A missing file is an error
// matching os.ErrNotExist; a file without a valid record gives a nil Holder
// and its raw contents.
func (l *Lock) readRecord() (*Holder, []byte, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, pathErr("read record", l.path, errors.New("is not a regular file"))
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, nil, pathErr("read record", l.path, err)
	}
	pid, name, err := parseRecord(raw)
	if err != nil {
		return nil, raw, nil
	}
	return &Holder{PID: pid, Process: name, Since: fi.ModTime()}, raw, nil
}

const mutantQueryState = 0x0001

// mutantBasicInformation is MUTANT_BASIC_INFORMATION.
type mutantBasicInformation struct {
	CurrentCount   int32
	OwnedByCaller  uint8
	AbandonedState uint8
}

var procNtQueryMutant = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtQueryMutant")

// mutexOwned reports whether a thread owns the named mutex, without waiting
// on it (a wait would take it, and could make a concurrent starter fail).
func mutexOwned(name string) (bool, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return false, err
	}
	m, err := windows.OpenMutex(mutantQueryState|windows.SYNCHRONIZE, false, n)
	switch {
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND):
		return false, nil // no handle open anywhere: nobody owns it
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return true, nil // it exists, created by a more privileged holder
	case err != nil:
		return false, err
	}
	defer windows.CloseHandle(m)
	if err := procNtQueryMutant.Find(); err != nil {
		return true, nil // cannot ask: a handle exists, assume owned
	}
	var info mutantBasicInformation
	var n2 uint32
	st, _, _ := procNtQueryMutant.Call(uintptr(m), 0, uintptr(unsafe.Pointer(&info)), unsafe.Sizeof(info), uintptr(unsafe.Pointer(&n2)))
	if st != 0 {
		return false, fmt.Errorf("NtQueryMutant: status %#x", st)
	}
	return info.CurrentCount <= 0, nil
}

func (l *Lock) query() (Status, error) {
	owned, err := mutexOwned(l.mutex)
	if err != nil {
		return Status{}, pathErr("query", l.path, err)
	}
	h, raw, err := l.readRecord()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Status{}, err
	}
	switch {
	case owned && h != nil && plausible(h):
		return Status{State: Running, Holder: h}, nil
	case owned:
		return Status{State: Starting}, nil
	case len(raw) != 0 && h == nil:
		// Nobody holds it and it is not a record: not a lock file.
		return Status{}, pathErr("query", l.path, errNotRecord)
	case len(raw) != 0:
		return Status{State: Stale, Holder: h}, nil
	}
	return Status{State: NotRunning}, nil
}

// checkExisting refuses a PID file that is neither missing, empty nor a
// record: writing the record (a rename over it) would destroy someone's
// file.
func (l *Lock) checkExisting() error {
	h, raw, err := l.readRecord()
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case errors.As(err, new(*PathError)):
		return err
	case err != nil:
		return pathErr("lock", l.path, err)
	case len(raw) != 0 && h == nil:
		return pathErr("lock", l.path, errNotRecord)
	}
	return nil
}

func (l *Lock) holdsLock(int) bool { return false }

// releaseInherited: a mutex cannot be inherited; it is an ordinary release.
func (l *Lock) releaseInherited(h *held) error { return l.release(h) }

// holders: Windows does not say which processes own a mutex by name.
func (l *Lock) holders() ([]Holder, error) {
	return nil, pathErr("holders", l.path, fmt.Errorf("listing a lock's holders on windows: %w", errors.ErrUnsupported))
}
