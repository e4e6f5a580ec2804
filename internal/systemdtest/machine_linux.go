package systemdtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	systemdPath = "/lib/systemd/systemd"
	// containerName is the value of $container for PID 1.
	containerName = "sole-test"
	// bootTimeout bounds Boot: from starting unshare to systemd's
	// is-system-running saying running or degraded.
	bootTimeout = 30 * time.Second
)

// machineOS holds the fields of Machine that only Linux has.
type machineOS struct {
	unshare     *exec.Cmd  // the unshare process, parent of PID 1
	files       []*os.File // namespace files and the root directory, held open
	consoleFile *os.File   // master of the console pty, read into console
	started     time.Time
}

// setupScript runs as PID 1 of the new namespaces (from unshare) and ends by
// exec'ing systemd. It builds the guest's root under /tmp, which it first
// hides behind a tmpfs of its own (the mount namespace is private, so the
// host's /tmp is untouched). $SYSTEMDTEST_MACHINE_ID is the guest's machine ID.
// $SYSTEMDTEST_CONSOLE, if set, is the host's pty slave to become the guest's
// /dev/console.
//
// The guest must never see the host's /tmp (systemd-tmpfiles would clean it),
// a writable /proc/sys (systemd-sysctl, systemd-binfmt and PID 1 itself would
// change the host's kernel settings) or a writable /sys or the host's /dev
// (systemd-udevd would start and trigger the host's devices).
const setupScript = `set -eu
mount --make-rprivate /
b=/tmp
mount -t tmpfs -o mode=0700 systemdtest "$b"
mkdir "$b/upper" "$b/work" "$b/root"
mount -t overlay -o "lowerdir=/,upperdir=$b/upper,workdir=$b/work" systemdtest "$b/root"
r=$b/root

mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
for p in sys sysrq-trigger; do
	[ -e "$r/proc/$p" ] || continue
	mount --bind "$r/proc/$p" "$r/proc/$p"
	mount -o remount,bind,ro,nosuid,nodev,noexec "$r/proc/$p"
done
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$r/sys/fs/cgroup"

mount -t tmpfs -o mode=0755,nosuid dev "$r/dev"
for n in null zero full random urandom tty; do
	touch "$r/dev/$n"
	mount --bind "/dev/$n" "$r/dev/$n"
done
mkdir "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$r/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$r/dev/shm"
ln -s pts/ptmx "$r/dev/ptmx"
if [ -n "$SYSTEMDTEST_CONSOLE" ]; then
	touch "$r/dev/console"
	mount --bind "$SYSTEMDTEST_CONSOLE" "$r/dev/console"
fi
ln -s /proc/self/fd "$r/dev/fd"
ln -s /proc/self/fd/0 "$r/dev/stdin"
ln -s /proc/self/fd/1 "$r/dev/stdout"
ln -s /proc/self/fd/2 "$r/dev/stderr"

mount -t tmpfs -o mode=0755,nosuid,nodev run "$r/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$r/tmp"

rm -f "$r/etc/machine-id"
echo "$SYSTEMDTEST_MACHINE_ID" >"$r/etc/machine-id"
chmod 0444 "$r/etc/machine-id"
# Keep the guest's hands off the host's kernel: modules, clock, raw I/O, the
# kernel log, audit settings, process accounting, wake alarms, LSMs.
exec setpriv --inh-caps=-all \
	--bounding-set=-sys_module,-sys_time,-sys_rawio,-syslog,-audit_control,-audit_read,-sys_pacct,-wake_alarm,-block_suspend,-mac_admin,-mac_override \
	chroot "$r" /usr/bin/env -i container=` + containerName + ` ` + systemdPath + ` --system --unit=basic.target --log-color=no
`

const goos = runtime.GOOS

var machineSeq atomic.Int64

// cgroupPrefix names the cgroups of guests: cgroupPrefix<test pid>-<n>.
const cgroupPrefix = "systemdtest-"

var staleCgroup = regexp.MustCompile(`^` + cgroupPrefix + `([0-9]+)-[0-9]+$`)

func boot(t testing.TB, env environment) *Machine {
	t.Helper()
	if reason := precheck(env); reason != "" {
		unavailable(t, env, reason)
		return nil
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		unavailable(t, env, "no unshare(1) (util-linux): "+err.Error())
		return nil
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		unavailable(t, env, "no setpriv(1) (util-linux): "+err.Error())
		return nil
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		unavailable(t, env, "no nsenter(1) (util-linux): "+err.Error())
		return nil
	}
	if fi, err := os.Stat(systemdPath); err != nil || fi.Mode()&0o111 == 0 {
		unavailable(t, env, fmt.Sprintf("no executable %s (is systemd installed?)", systemdPath))
		return nil
	}
	parent, err := ownCgroup2Dir()
	if err != nil {
		unavailable(t, env, "no cgroup2 hierarchy: "+err.Error())
		return nil
	}
	removeStaleCgroups(t, parent)
	cg := filepath.Join(parent, fmt.Sprintf("%s%d-%d", cgroupPrefix, os.Getpid(), machineSeq.Add(1)))
	if err := os.Mkdir(cg, 0o755); err != nil {
		unavailable(t, env, "cannot create the guest's cgroup: "+err.Error())
		return nil
	}

	var id [16]byte
	rand.Read(id[:])
	m := &Machine{
		cgroup:    cg,
		nsenter:   nsenter,
		rootFD:    -1,
		exited:    make(chan struct{}),
		console:   &syncBuffer{},
		machineOS: machineOS{started: time.Now()},
	}
	// The console: a pty whose slave is unshare's stdout and stderr and
	// the guest's /dev/console (systemd logs there until journald is up, but
	// only if it is a terminal), and whose master is drained into m.console.
	consolePath := ""
	master, slave, err := openConsole()
	if err != nil {
		t.Logf("systemdtest: no console for the guest, so systemd's early output is lost: %v", err)
	} else {
		m.consoleFile = master
		consolePath = slave.Name()
		defer slave.Close() // unshare has it
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := master.Read(buf)
				m.console.Write(buf[:n])
				if err != nil { // EIO: no one has the slave open any more
					return
				}
			}
		}()
	}
	// The outer shell moves itself into the guest's cgroup, then becomes
	// unshare, whose --cgroup namespace is then rooted there. unshare forks
	// PID 1, which runs setupScript (from the environment, to keep ps
	// readable).
	m.unshare = exec.Command("/bin/sh", "-c",
		`echo $$ >"$1/cgroup.procs" && exec "$2" --pid --fork --kill-child=SIGKILL --mount --uts --ipc --net --cgroup /bin/sh -c 'eval "$SYSTEMDTEST_SETUP"'`,
		"sh", cg, unshare)
	m.unshare.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"SYSTEMDTEST_SETUP=" + setupScript,
		"SYSTEMDTEST_MACHINE_ID=" + hex.EncodeToString(id[:]),
		"SYSTEMDTEST_CONSOLE=" + consolePath,
	}
	if slave != nil {
		m.unshare.Stdout = slave
		m.unshare.Stderr = slave
	} else {
		m.unshare.Stdout = m.console
		m.unshare.Stderr = m.console
		m.unshare.WaitDelay = 5 * time.Second
	}
	// If the test process dies, unshare gets SIGKILL, and --kill-child
	// passes it on to PID 1.
	m.unshare.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	// The parent-death signal fires when the thread that forked the child
	// exits, not the process: fork from a thread locked to a goroutine that
	// lives as long as the child does.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := m.unshare.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		m.waitErr = m.unshare.Wait()
		close(m.exited)
	}()
	if err := <-started; err != nil {
		m.release()
		unavailable(t, env, "cannot start unshare: "+err.Error())
		return nil
	}
	t.Cleanup(func() { m.Shutdown(t) })

	deadline := m.started.Add(bootTimeout)
	// Setting up: until PID 1 has become systemd, a failure is the
	// environment's (no overlayfs, no permission for namespaces, ...).
	pid, err := m.waitForSystemd(deadline)
	if err != nil {
		if m.hasExited() {
			unavailable(t, env, fmt.Sprintf("setting up the namespaces and mounts failed (%v):\n%s", m.waitErr, m.console.String()))
		} else {
			t.Fatalf("systemdtest: %v\noutput:\n%s", err, m.console.String())
		}
		return nil
	}
	m.pid = pid
	if err := m.openNamespaces(); err != nil {
		t.Fatalf("systemdtest: %v\nsystemd's output:\n%s", err, m.console.String())
	}

	state, err := m.waitRunning(deadline)
	if err != nil {
		t.Fatalf("systemdtest: systemd (pid %d) did not boot: %v\nsystemd's output:\n%s\njournal:\n%s",
			m.pid, err, m.console.String(), m.Journal(t, ""))
	}
	m.booted = true
	t.Logf("systemdtest: systemd (host pid %d) is %s after %v", m.pid, state, time.Since(m.started).Round(time.Millisecond))
	if state == "degraded" {
		out, _ := m.Systemctl(t, "--failed", "--no-legend")
		t.Logf("systemdtest: failed units:\n%s", out)
	}
	return m
}

// ownCgroup2Dir returns the host path of the test process's cgroup in the
// cgroup2 hierarchy.
func ownCgroup2Dir() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	own := ""
	for line := range strings.SplitSeq(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			own = p
		}
	}
	if own == "" {
		return "", errors.New("the process is in no cgroup2 cgroup (/proc/self/cgroup has no 0:: line)")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || sep+1 >= len(fields) || fields[sep+1] != "cgroup2" {
			continue
		}
		root, mnt := unescapeMount(fields[3]), unescapeMount(fields[4])
		rel, ok := strings.CutPrefix(own, root)
		if !ok || (rel != "" && root != "/" && !strings.HasPrefix(rel, "/")) {
			continue
		}
		dir := filepath.Join(mnt, rel)
		if unix.Access(dir, unix.W_OK) != nil {
			return "", fmt.Errorf("%s is not writable", dir)
		}
		return dir, nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no cgroup2 file system mounted that holds cgroup %s", own)
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeStaleCgroups removes the cgroups of guests of test processes that
// are gone (killed before their cleanup ran).
func removeStaleCgroups(t testing.TB, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		sm := staleCgroup.FindStringSubmatch(e.Name())
		if sm == nil || !e.IsDir() {
			continue
		}
		pid, _ := strconv.Atoi(sm[1])
		if pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + sm[1]); err == nil || pid <= 0 {
			continue
		}
		if err := removeCgroup(filepath.Join(parent, e.Name())); err != nil {
			t.Logf("systemdtest: cannot remove a stale guest cgroup: %v", err)
		}
	}
}

// removeCgroup kills whatever is left in the cgroup tree dir and removes it.
func removeCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// cgroup.kill (Linux 5.14) SIGKILLs everything in the tree.
	if populated(dir) {
		os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	}
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.Reverse(dirs) // children first
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		err = nil
		for _, d := range dirs {
			if e := os.Remove(d); e != nil && !errors.Is(e, fs.ErrNotExist) {
				err = e
			}
		}
		// A killed process leaves its cgroup busy until it is reaped.
		if err == nil || !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func populated(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	return err != nil || bytes.Contains(data, []byte("populated 1"))
}

// waitForSystemd waits for unshare's child, PID 1 of the guest, to have
// exec'd systemd, and returns its host PID.
func (m *Machine) waitForSystemd(deadline time.Time) (int, error) {
	upid := m.unshare.Process.Pid
	pid := 0
	for {
		if m.hasExited() {
			return 0, fmt.Errorf("unshare exited: %v", m.waitErr)
		}
		if pid == 0 {
			if pid = childOf(upid); pid != 0 {
				// unshare has made the cgroup namespace (before forking):
				// move it out, to the test's cgroup, leaving the guest's root
				// cgroup to the guest (cgroup2 allows no processes in a
				// cgroup that delegates controllers to its children).
				os.WriteFile(filepath.Join(filepath.Dir(m.cgroup), "cgroup.procs"), []byte(strconv.Itoa(upid)), 0)
			}
		}
		if pid != 0 {
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err == nil && strings.TrimSpace(string(comm)) == "systemd" {
				return pid, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("PID 1 (host pid %d) has not become systemd within %v", pid, bootTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// childOf returns a child process of pid, or 0.
func childOf(pid int) int {
	// /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN; fall back to
	// scanning /proc.
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			c, _ := strconv.Atoi(f[0])
			return c
		}
		return 0
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return c
		}
	}
	return 0
}

// openNamespaces opens PID 1's namespaces and root, so that commands enter
// them through descriptors the test process holds rather than through a PID
// that could be reused once systemd is gone.
func (m *Machine) openNamespaces() error {
	self := os.Getpid()
	for _, ns := range []struct{ file, opt string }{
		{"mnt", "--mount"}, {"pid", "--pid"}, {"uts", "--uts"},
		{"ipc", "--ipc"}, {"net", "--net"}, {"cgroup", "--cgroup"},
	} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", m.pid, ns.file))
		if err != nil {
			return fmt.Errorf("opening the guest's namespace: %w", err)
		}
		m.files = append(m.files, f)
		m.nsArgs = append(m.nsArgs, fmt.Sprintf("%s=/proc/%d/fd/%d", ns.opt, self, f.Fd()))
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/root", m.pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the guest's root: %w", err)
	}
	m.files = append(m.files, os.NewFile(uintptr(fd), "guest root"))
	m.rootFD = fd
	root := fmt.Sprintf("/proc/%d/fd/%d", self, fd)
	m.nsArgs = append(m.nsArgs, "--root="+root, "--wd="+root)
	return nil
}

// waitRunning waits for systemctl is-system-running to say running or
// degraded, and returns which.
func (m *Machine) waitRunning(deadline time.Time) (string, error) {
	// systemctl needs PID 1's private socket; it is on the guest's own /run,
	// so it cannot be the host's.
	private := filepath.Join(m.Root(), "run/systemd/private")
	for {
		if _, err := os.Stat(private); err == nil {
			break
		}
		if m.hasExited() {
			return "", fmt.Errorf("systemd exited: %v", m.waitErr)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no /run/systemd/private after %v", bootTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var out bytes.Buffer
	_, err := m.run(ctx, nil, &out, &out, "systemctl", "is-system-running", "--wait")
	state := strings.TrimSpace(out.String())
	if err != nil {
		return state, err
	}
	if state != "running" && state != "degraded" {
		return state, fmt.Errorf("systemctl is-system-running --wait says %q", state)
	}
	return state, nil
}

// kill kills the guest: SIGKILL to unshare makes it SIGKILL PID 1, which
// takes the PID namespace with it; cgroup.kill gets anything else.
func (m *Machine) kill() {
	m.unshare.Process.Signal(syscall.SIGKILL)
	os.WriteFile(filepath.Join(m.cgroup, "cgroup.kill"), []byte("1"), 0)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
	}
}

// release closes the namespace descriptors (freeing the guest's mounts) and
// removes the guest's cgroup. PID 1 must be gone.
func (m *Machine) release() error {
	var errs []error
	if m.unshare != nil && m.unshare.Process != nil && !m.hasExited() {
		m.kill()
		if !m.hasExited() {
			errs = append(errs, fmt.Errorf("unshare (pid %d) does not exit", m.unshare.Process.Pid))
		}
	}
	for _, f := range m.files {
		f.Close()
	}
	m.files = nil
	if m.consoleFile != nil {
		m.consoleFile.Close()
	}
	if err := removeCgroup(m.cgroup); err != nil {
		errs = append(errs, fmt.Errorf("removing the guest's cgroup: %w", err))
	}
	return errors.Join(errs...)
}

// writeFile writes the file through the guest's root, resolving the path
// (symbolic links included) inside it with openat2's RESOLVE_IN_ROOT.
func (m *Machine) writeFile(guestPath string, data []byte, perm os.FileMode) error {
	rel := strings.TrimPrefix(path.Clean(guestPath), "/")
	if rel == "" {
		return errors.New("cannot write the root directory")
	}
	err := m.mkdirAll(path.Dir(rel))
	if errors.Is(err, unix.ENOSYS) {
		return m.writeFileNsenter(guestPath, data, perm)
	}
	if err != nil {
		return err
	}
	fd, err := unix.Openat2(m.rootFD, rel, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC | unix.O_NOCTTY,
		Mode:    uint64(perm),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: guestPath, Err: err}
	}
	f := os.NewFile(uintptr(fd), guestPath)
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm) // the umask, or an existing file
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirAll creates the directory rel (relative to the guest's root) and its
// parents.
func (m *Machine) mkdirAll(rel string) error {
	if rel == "." {
		return nil
	}
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(m.rootFD, rel, how)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if err != unix.ENOENT {
		return &fs.PathError{Op: "open", Path: "/" + rel, Err: err}
	}
	if err := m.mkdirAll(path.Dir(rel)); err != nil {
		return err
	}
	pfd, err := unix.Openat2(m.rootFD, path.Dir(rel), how)
	if err != nil {
		return &fs.PathError{Op: "open", Path: "/" + path.Dir(rel), Err: err}
	}
	defer unix.Close(pfd)
	if err := unix.Mkdirat(pfd, path.Base(rel), 0o755); err != nil && err != unix.EEXIST {
		return &fs.PathError{Op: "mkdir", Path: "/" + rel, Err: err}
	}
	return nil
}

// writeFileNsenter writes the file with a shell in the guest, for kernels
// without openat2 (before 5.6).
func (m *Machine) writeFileNsenter(guestPath string, data []byte, perm os.FileMode) error {
	var out bytes.Buffer
	code, err := m.run(context.Background(), data, &out, &out, "/bin/sh", "-c",
		`mkdir -p -- "$(dirname -- "$1")" && cat >"$1" && chmod "$2" "$1"`,
		"sh", guestPath, strconv.FormatUint(uint64(perm), 8))
	if err == nil && code != 0 {
		err = fmt.Errorf("exit code %d: %s", code, out.String())
	}
	return err
}

// openConsole opens a new pty in raw mode, for the guest's console.
func openConsole() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fail := func(op string, err error) (*os.File, *os.File, error) {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail("unlocking the pty", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return fail("getting the pty's number", err)
	}
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fail("getting the pty's termios", err)
	}
	// Raw: no \r\n for \n, no echo.
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return fail("setting the pty's termios", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("setting the pty nonblocking", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail("open", err)
	}
	// Nonblocking, the master is in the runtime's poller, so Close ends a
	// pending Read.
	return os.NewFile(uintptr(fd), "/dev/ptmx"), os.NewFile(uintptr(sfd), path), nil
}
