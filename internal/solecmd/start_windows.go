//go:build windows

package solecmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A child is COMMAND as startCommand started it: its process, in a job
// object that holds it and every process it starts, and that is
// terminated when sole closes it (or dies).
type child struct {
	pid     int
	process windows.Handle
	job     windows.Handle
	exited  chan struct{} // closed when the process has exited
	code    uint32        // its exit code, once exited is closed
	waitErr error
}

// commandSpec is what startCommand starts.
type commandSpec struct {
	path string   // the program, as lookPath found it
	argv []string // argv[0] and the arguments, as given
	env  []string // the whole environment
	dir  string   // the working directory; "" is sole's
	// The standard handles COMMAND gets; 0 is none.
	stdin, stdout, stderr windows.Handle
	// newGroup makes COMMAND the root of a console process group of its
	// own (CREATE_NEW_PROCESS_GROUP), so that a CTRL_BREAK_EVENT can be
	// aimed at it and its children alone. The group ignores CTRL+C.
	newGroup bool
}

// startCommand starts COMMAND in a new kill-on-close job object. The
// process is created suspended and assigned to the job before its first
// instruction runs, so that no process it starts, however early, can
// escape the job.
func startCommand(s commandSpec) (_ *child, err error) {
	job, err := killOnCloseJob()
	if err != nil {
		return nil, fmt.Errorf("job object: %w", err)
	}
	defer func() {
		if err != nil {
			windows.CloseHandle(job)
		}
	}()
	path, err := filepath.Abs(s.path)
	if err != nil {
		return nil, err
	}
	app, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	cmdline, err := windows.UTF16PtrFromString(windows.ComposeCommandLine(s.argv))
	if err != nil {
		return nil, err
	}
	var dir *uint16
	if s.dir != "" {
		abs, err := filepath.Abs(s.dir)
		if err != nil {
			return nil, err
		}
		if dir, err = windows.UTF16PtrFromString(abs); err != nil {
			return nil, err
		}
	}
	env, err := envBlock(s.env)
	if err != nil {
		return nil, err
	}

	// COMMAND inherits its three standard handles and nothing else:
	// inheritable copies of them, listed in PROC_THREAD_ATTRIBUTE_HANDLE_LIST.
	self := windows.CurrentProcess()
	var std [3]windows.Handle
	var inherit []windows.Handle
	for i, h := range []windows.Handle{s.stdin, s.stdout, s.stderr} {
		if h == 0 || h == windows.InvalidHandle {
			continue
		}
		if err := windows.DuplicateHandle(self, h, self, &std[i], 0, true, windows.DUPLICATE_SAME_ACCESS); err != nil {
			return nil, fmt.Errorf("standard handle %d: %w", i, err)
		}
		defer windows.CloseHandle(std[i])
		inherit = append(inherit, std[i])
	}
	attrs, err := windows.NewProcThreadAttributeList(1)
	if err != nil {
		return nil, err
	}
	defer attrs.Delete()
	if len(inherit) > 0 {
		if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_HANDLE_LIST, unsafe.Pointer(&inherit[0]), uintptr(len(inherit))*unsafe.Sizeof(inherit[0])); err != nil {
			return nil, err
		}
	}
	si := new(windows.StartupInfoEx)
	si.Cb = uint32(unsafe.Sizeof(*si))
	si.Flags = windows.STARTF_USESTDHANDLES
	si.StdInput, si.StdOutput, si.StdErr = std[0], std[1], std[2]
	si.ProcThreadAttributeList = attrs.List()
	flags := uint32(windows.CREATE_SUSPENDED | windows.CREATE_UNICODE_ENVIRONMENT | windows.EXTENDED_STARTUPINFO_PRESENT)
	if s.newGroup {
		flags |= windows.CREATE_NEW_PROCESS_GROUP
	}
	var pi windows.ProcessInformation
	if err := windows.CreateProcess(app, cmdline, nil, nil, len(inherit) > 0, flags, &env[0], dir, &si.StartupInfo, &pi); err != nil {
		return nil, err
	}
	defer windows.CloseHandle(pi.Thread)
	if err := windows.AssignProcessToJobObject(job, pi.Process); err != nil {
		windows.TerminateProcess(pi.Process, 1)
		windows.CloseHandle(pi.Process)
		return nil, fmt.Errorf("job object: %w", err)
	}
	if _, err := windows.ResumeThread(pi.Thread); err != nil {
		windows.TerminateJobObject(job, 1)
		windows.CloseHandle(pi.Process)
		return nil, fmt.Errorf("resuming %s: %w", s.argv[0], err)
	}
	c := &child{pid: int(pi.ProcessId), process: pi.Process, job: job, exited: make(chan struct{})}
	go c.wait()
	return c, nil
}

func (c *child) wait() {
	defer close(c.exited)
	if _, err := windows.WaitForSingleObject(c.process, windows.INFINITE); err != nil {
		c.waitErr = fmt.Errorf("waiting for pid %d: %w", c.pid, err)
		return
	}
	if err := windows.GetExitCodeProcess(c.process, &c.code); err != nil {
		c.waitErr = fmt.Errorf("exit code of pid %d: %w", c.pid, err)
	}
}

// terminate ends COMMAND and every process of its job.
func (c *child) terminate(code uint32) error {
	return windows.TerminateJobObject(c.job, code)
}

// close terminates what is left in the job (closing the last handle of a
// kill-on-close job does) and releases the handles. COMMAND has exited.
func (c *child) close() {
	windows.CloseHandle(c.job)
	windows.CloseHandle(c.process)
}

// processes returns the ids of the processes in COMMAND's job.
func (c *child) processes() ([]uint32, error) {
	// JOBOBJECT_BASIC_PROCESS_ID_LIST, with room for n ids.
	for n := 64; ; n *= 4 {
		buf := make([]uintptr, 1+n)
		err := windows.QueryInformationJobObject(c.job, windows.JobObjectBasicProcessIdList,
			uintptr(unsafe.Pointer(&buf[0])), uint32(len(buf))*uint32(unsafe.Sizeof(buf[0])), nil)
		if errors.Is(err, windows.ERROR_MORE_DATA) && n < 1<<16 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing the job's processes: %w", err)
		}
		counts := (*[2]uint32)(unsafe.Pointer(&buf[0]))
		var pids []uint32
		for _, id := range buf[1 : 1+min(int(counts[1]), n)] {
			pids = append(pids, uint32(id))
		}
		return pids, nil
	}
}

func killOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	_, err = windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	if err != nil {
		windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

// envBlock is env as CreateProcess takes it: NAME=VALUE strings, each
// ended by a NUL, then a NUL; a name given twice (in any case: Windows'
// names are case-insensitive) has its last value, and the names are
// sorted, as the documentation of CreateProcess asks.
func envBlock(env []string) ([]uint16, error) {
	name := envName
	last := make(map[string]int)
	for i, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("environment variable %q contains a NUL", name(kv))
		}
		last[name(kv)] = i
	}
	var vars []string
	for i, kv := range env {
		if kv != "" && last[name(kv)] == i {
			vars = append(vars, kv)
		}
	}
	slices.SortStableFunc(vars, func(a, b string) int { return strings.Compare(name(a), name(b)) })
	var b []uint16
	for _, kv := range vars {
		b = append(b, utf16.Encode([]rune(kv))...)
		b = append(b, 0)
	}
	if len(b) == 0 {
		b = append(b, 0)
	}
	return append(b, 0), nil
}

// envName is the upper-cased name of the NAME=VALUE string kv. A name
// can start with '=' (=C:=C:\dir, the current directory of a drive).
func envName(kv string) string {
	if kv == "" {
		return ""
	}
	if i := strings.IndexByte(kv[1:], '='); i >= 0 {
		return strings.ToUpper(kv[:i+1])
	}
	return strings.ToUpper(kv)
}

// stdHandle is f's handle, or 0 for a nil f (a standard file that the
// process lacks).
func stdHandle(f *os.File) windows.Handle {
	if f == nil {
		return 0
	}
	return windows.Handle(f.Fd())
}
