//go:build linux

package solecmd

// Each signal meant for COMMAND reaches it exactly once, however it was
// sent: to sole's pid, to sole's process group, by timeout(1) (which
// signals its child and then its whole group), or by the terminal (Ctrl-C,
// Ctrl-Z and fg under a job-control shell). COMMAND is internal/sigcount,
// which appends one line per delivery to a record file.
//
// Linux only: the pseudo-terminal and the process bookkeeping (/proc) are
// Linux's. Every process a test starts is ended by pid in its cleanup,
// together with whatever is left in the session it was started in.

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/internal/testenv"
)

// sigDeadline bounds every wait for something to happen.
const sigDeadline = 30 * time.Second

// sigcountBin builds internal/sigcount once per test binary run. The
// directory outlives the tests (TestMain, in main_test.go, does not remove
// it).
var sigcountBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sole-sigcount-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "sigcount")
	return out, testenv.BuildTo(out, "internal/sigcount")
})

func sigcount(t *testing.T) string {
	t.Helper()
	p, err := sigcountBin()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readRecord reads a sigcount record: whether it says "ready" (once, first),
// and how many times each signal was delivered.
func readRecord(t *testing.T, path string) (ready bool, counts map[string]int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	counts = map[string]int{}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		switch {
		case line == "ready" && i == 0:
			ready = true
		case line == "ready":
			t.Fatalf("%s: a second ready line:\n%s", path, b)
		case line != "":
			counts[line]++
		}
	}
	return ready, counts
}

// waitRecord waits until the record at path satisfies cond.
func waitRecord(t *testing.T, path, what string, cond func(ready bool, counts map[string]int) bool) {
	t.Helper()
	for end := time.Now().Add(sigDeadline); ; time.Sleep(2 * time.Millisecond) {
		if cond(readRecord(t, path)) {
			return
		}
		if time.Now().After(end) {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s: no %s within %v; record:\n%s", path, what, sigDeadline, b)
		}
	}
}

func waitReady(t *testing.T, path string) {
	t.Helper()
	waitFile(t, path)
	waitRecord(t, path, "ready", func(ready bool, _ map[string]int) bool { return ready })
}

// checkCounts compares a final record with want (signal name to count).
func checkCounts(t *testing.T, path string, want map[string]int) {
	t.Helper()
	ready, got := readRecord(t, path)
	if !ready {
		t.Errorf("%s: sigcount never said ready", path)
	}
	if !maps.Equal(got, want) {
		t.Errorf("COMMAND got %v, want %v (each signal exactly once per event)", got, want)
	}
}

// procStatus is what /proc/PID/stat says of a process.
type procStatus struct {
	state               byte
	ppid, pgrp, session int
}

func readProcStat(pid int) (procStatus, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStatus{}, false
	}
	// PID (COMM) STATE PPID PGRP SESSION ...; COMM may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStatus{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return procStatus{}, false
	}
	var s procStatus
	s.state = f[0][0]
	s.ppid, _ = strconv.Atoi(f[1])
	s.pgrp, _ = strconv.Atoi(f[2])
	s.session, _ = strconv.Atoi(f[3])
	return s, true
}

// allProcesses returns the stat of every process on the machine by pid.
func allProcesses() map[int]procStatus {
	ents, _ := os.ReadDir("/proc")
	m := make(map[int]procStatus, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, ok := readProcStat(pid); ok {
			m[pid] = s
		}
	}
	return m
}

// procAlive reports whether pid runs (a zombie is not: pid 1 of a container
// may never reap its orphans).
func procAlive(pid int) bool {
	s, ok := readProcStat(pid)
	return ok && s.state != 'Z' && s.state != 'X'
}

// sigProc is a process a test started, with sole somewhere in it.
type sigProc struct {
	cmd     *exec.Cmd
	pid     int
	session bool // started as the leader of a session of its own
	done    chan struct{}
	err     error
}

// startSigProc starts cmd and registers its end: on cleanup, the process, its
// descendants and, when it leads a session of its own, every process of
// that session are killed by pid. Without SysProcAttr, cmd gets a session
// of its own (so also no controlling terminal, whatever the test runner
// has).
func startSigProc(t *testing.T, cmd *exec.Cmd) *sigProc {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &sigProc{cmd: cmd, pid: cmd.Process.Pid, session: cmd.SysProcAttr.Setsid, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		for _, pid := range p.leftovers() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = p.cmd.Process.Kill() // a no-op once it was waited for
		select {
		case <-p.done:
		case <-time.After(sigDeadline):
			t.Errorf("pid %d still running %v after SIGKILL", p.pid, sigDeadline)
		}
	})
	return p
}

// leftovers are the live processes that p started: its descendants (while
// it has not been waited for: until then its pid cannot be reused) and the
// members of its session (a session's id is not reused while it has
// members).
func (p *sigProc) leftovers() []int {
	children := !p.exited()
	all := allProcesses()
	mine := map[int]bool{p.pid: true}
	for grew := true; grew; {
		grew = false
		for pid, s := range all {
			if !mine[pid] && (children && mine[s.ppid] || p.session && s.session == p.pid) {
				mine[pid], grew = true, true
			}
		}
	}
	var out []int
	for pid := range mine {
		if pid != p.pid && procAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func (p *sigProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *sigProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return exitCode(p.err)
	case <-time.After(sigDeadline):
		t.Fatalf("%v still running after %v", p.cmd.Args, sigDeadline)
		return 0
	}
}

// waitSessionGone waits until no process of p's session runs (and fails
// the test, but goes on, when some still do after the deadline).
func (p *sigProc) waitSessionGone(t *testing.T) {
	t.Helper()
	for end := time.Now().Add(sigDeadline); ; time.Sleep(5 * time.Millisecond) {
		if len(p.leftovers()) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Errorf("processes %v of the session of %d still running after %v", p.leftovers(), p.pid, sigDeadline)
			return
		}
	}
}

// A sigAction is what a case does to the running sole (p) while COMMAND
// records into rec.
type sigAction func(t *testing.T, p *sigProc, rec string)

// toSole sends sig to sole's pid.
func toSole(sig syscall.Signal) sigAction {
	return func(t *testing.T, p *sigProc, _ string) {
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
}

// toGroup sends sig to sole's process group, as `kill -- -PGID` does.
func toGroup(sig syscall.Signal) sigAction {
	return func(t *testing.T, p *sigProc, _ string) {
		if err := syscall.Kill(-p.pid, sig); err != nil {
			t.Fatal(err)
		}
	}
}

// recorded waits until COMMAND has recorded line n times and checks that
// sole still runs.
func recorded(line string, n int) sigAction {
	return func(t *testing.T, p *sigProc, rec string) {
		waitRecord(t, rec, fmt.Sprintf("%d %s", n, line), func(_ bool, c map[string]int) bool { return c[line] >= n })
		if p.exited() {
			t.Fatalf("sole exited (%v) after %s; COMMAND should keep running", p.err, line)
		}
	}
}

func pauseFor(d time.Duration) sigAction {
	return func(*testing.T, *sigProc, string) { time.Sleep(d) }
}

// TestSignalsReachCommandOnce: signals sent to sole, to its process group
// or by timeout(1) reach COMMAND once each.
func TestSignalsReachCommandOnce(t *testing.T) {
	sc := sigcount(t)
	run := func(lock string, command ...string) []string {
		return append([]string{"sole", "run", "--lock", lock, "--"}, command...)
	}
	for name, c := range map[string]struct {
		argv    func(lock, rec, dir string) []string
		setpgid bool // a process group of its own in the test's session, not a new session
		do      []sigAction
		want    map[string]int
		exit    int
	}{
		"kill -TERM sole": {
			argv: func(lock, rec, _ string) []string { return run(lock, sc, rec) },
			do:   []sigAction{toSole(syscall.SIGTERM)},
			want: map[string]int{"TERM": 1},
		},
		"kill -TERM -- -PGID of sole": {
			argv:    func(lock, rec, _ string) []string { return run(lock, sc, rec) },
			setpgid: true,
			do:      []sigAction{toGroup(syscall.SIGTERM)},
			want:    map[string]int{"TERM": 1},
		},
		"timeout -s TERM": {
			// timeout signals its child (sole), then its own process group;
			// 2 s leaves sole and COMMAND time to start on a busy machine.
			argv: func(lock, rec, _ string) []string {
				return append([]string{"timeout", "-s", "TERM", "2"}, run(lock, sc, rec)...)
			},
			want: map[string]int{"TERM": 1},
			exit: 124,
		},
		"timeout -s INT": {
			argv: func(lock, rec, _ string) []string {
				return append([]string{"timeout", "-s", "INT", "2"}, run(lock, sc, rec)...)
			},
			want: map[string]int{"INT": 1},
			exit: 124,
		},
		"SIGHUP to sole, COMMAND keeps running": {
			argv: func(lock, rec, _ string) []string { return run(lock, sc, rec) },
			do:   []sigAction{toSole(syscall.SIGHUP), recorded("HUP", 1), pauseFor(200 * time.Millisecond), recorded("HUP", 1), toSole(syscall.SIGTERM)},
			want: map[string]int{"HUP": 1, "TERM": 1},
		},
		"SIGUSR1 to sole": {
			argv: func(lock, rec, _ string) []string { return run(lock, sc, rec) },
			do:   []sigAction{toSole(syscall.SIGUSR1), recorded("USR1", 1), toSole(syscall.SIGTERM)},
			want: map[string]int{"USR1": 1, "TERM": 1},
		},
		"SIGUSR2 to sole": {
			argv: func(lock, rec, _ string) []string { return run(lock, sc, rec) },
			do:   []sigAction{toSole(syscall.SIGUSR2), recorded("USR2", 1), toSole(syscall.SIGTERM)},
			want: map[string]int{"USR2": 1, "TERM": 1},
		},
		"SIGQUIT to sole": {
			argv: func(lock, rec, _ string) []string { return run(lock, sc, rec) },
			do:   []sigAction{toSole(syscall.SIGQUIT), recorded("QUIT", 1), toSole(syscall.SIGTERM)},
			want: map[string]int{"QUIT": 1, "TERM": 1},
		},
		"two SIGTERMs 300ms apart are two": {
			// Only signals less than 100 ms apart are one event. sigcount
			// exits 500 ms after the last one.
			argv: func(lock, rec, _ string) []string { return run(lock, sc, rec) },
			do:   []sigAction{toSole(syscall.SIGTERM), pauseFor(300 * time.Millisecond), toSole(syscall.SIGTERM)},
			want: map[string]int{"TERM": 2},
		},
		"shell script COMMAND, kill -TERM sole": {
			// The shell dies of the SIGTERM; its child, in COMMAND's
			// process group, gets it too, once.
			argv: func(lock, rec, _ string) []string {
				return run(lock, "sh", "-c", `"$1" "$2" & wait`, "sh", sc, rec)
			},
			do:   []sigAction{toSole(syscall.SIGTERM)},
			want: map[string]int{"TERM": 1},
			exit: 128 + int(syscall.SIGTERM),
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			rec := filepath.Join(dir, "record")
			argv := c.argv(filepath.Join(dir, "x.pid"), rec, dir)
			cmd := exec.Command(argv[0], argv[1:]...)
			if c.setpgid {
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			}
			p := startSigProc(t, cmd)
			waitReady(t, rec)
			for _, a := range c.do {
				a(t, p, rec)
			}
			code := p.wait(t)
			if p.session {
				// A grandchild may outlive sole: let it record any late
				// duplicate and exit.
				p.waitSessionGone(t)
			}
			checkCounts(t, rec, c.want)
			if code != c.exit {
				t.Errorf("%s exited %d, want %d", argv[0], code, c.exit)
			}
		})
	}
}

// sigPTY is the master side of a pseudo-terminal, with everything read from
// it so far.
type sigPTY struct {
	master *os.File
	slave  string
	mu     sync.Mutex
	out    []byte
}

// openPTY opens a pseudo-terminal (closed on cleanup) and reads its master
// side until then.
func openPTY(t *testing.T) *sigPTY {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		unix.Close(fd)
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		unix.Close(fd)
		t.Fatalf("ptsname: %v", err)
	}
	p := &sigPTY{master: os.NewFile(uintptr(fd), "/dev/ptmx"), slave: "/dev/pts/" + strconv.Itoa(int(n))}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := p.master.Read(buf)
			p.mu.Lock()
			p.out = append(p.out, buf[:n]...)
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { p.master.Close(); <-readDone })
	return p
}

// start starts argv as the leader of a new session whose controlling
// terminal is the pty, as its standard input, output and error.
func (p *sigPTY) start(t *testing.T, env []string, argv ...string) *sigProc {
	t.Helper()
	slave, err := os.OpenFile(p.slave, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	return startSigProc(t, cmd)
}

// typeKeys writes s to the terminal as if typed.
func (p *sigPTY) typeKeys(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		t.Fatalf("typing %q: %v", s, err)
	}
}

// output returns everything the terminal has shown.
func (p *sigPTY) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.out)
}

// waitOutput waits until the terminal shows a match of re at or after
// byte from of its output, and returns the match and the offset after it.
func (p *sigPTY) waitOutput(t *testing.T, re *regexp.Regexp, from int) ([]string, int) {
	t.Helper()
	for end := time.Now().Add(sigDeadline); ; time.Sleep(5 * time.Millisecond) {
		out := p.output()
		if loc := re.FindStringSubmatchIndex(out[from:]); loc != nil {
			var m []string
			for i := 0; i < len(loc); i += 2 {
				m = append(m, out[from+loc[i]:from+loc[i+1]])
			}
			return m, from + loc[1]
		}
		if time.Now().After(end) {
			t.Fatalf("the terminal did not show %q within %v; it shows:\n%q", re, sigDeadline, out)
		}
	}
}

// foreground returns the terminal's foreground process group.
func (p *sigPTY) foreground() (int, error) {
	return unix.IoctlGetInt(int(p.master.Fd()), unix.TIOCGPGRP)
}

// TestSignalsTerminal: sole run at a terminal, as the session's only job:
// Ctrl-C reaches COMMAND once, and COMMAND can read the terminal (its
// process group is the foreground one).
func TestSignalsTerminal(t *testing.T) {
	sc := sigcount(t)
	for name, c := range map[string]struct {
		command func(dir string) []string
		ready   bool   // wait for sigcount's ready in dir/record first
		keys    string // then type this
		check   func(t *testing.T, dir string, code int)
	}{
		"Ctrl-C reaches COMMAND once": {
			command: func(dir string) []string { return []string{sc, filepath.Join(dir, "record")} },
			ready:   true,
			keys:    "\x03",
			check: func(t *testing.T, dir string, code int) {
				checkCounts(t, filepath.Join(dir, "record"), map[string]int{"INT": 1})
				// COMMAND's status (sigcount exits 0 after a SIGINT), or
				// 128+SIGINT.
				if code != 0 && code != 128+int(syscall.SIGINT) {
					t.Errorf("sole exited %d, want 0 (COMMAND's status) or 130", code)
				}
			},
		},
		"COMMAND reads the terminal": {
			command: func(dir string) []string {
				return []string{"sh", "-c", `read x; echo "got:$x" > "$1"`, "sh", filepath.Join(dir, "got")}
			},
			keys: "hi\r",
			check: func(t *testing.T, dir string, code int) {
				if b, _ := os.ReadFile(filepath.Join(dir, "got")); string(b) != "got:hi\n" {
					t.Errorf("COMMAND read %q from the terminal, want got:hi", b)
				}
				if code != 0 {
					t.Errorf("sole exited %d, want 0", code)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tty := openPTY(t)
			argv := append([]string{"sole", "run", "--lock", filepath.Join(dir, "x.pid"), "--"}, c.command(dir)...)
			p := tty.start(t, os.Environ(), argv...)
			if c.ready {
				waitReady(t, filepath.Join(dir, "record"))
			}
			tty.typeKeys(t, c.keys)
			code := p.wait(t)
			p.waitSessionGone(t)
			c.check(t, dir, code)
			if t.Failed() {
				t.Logf("terminal:\n%q", tty.output())
			}
		})
	}
}

// TestSignalsJobControl: sole run as a job of an interactive bash: Ctrl-Z
// stops the job (bash says so), fg resumes it, and Ctrl-C then reaches
// COMMAND once; the prompt comes back with sole's status.
func TestSignalsJobControl(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("bash: %v", err)
	}
	// Run by the shell itself, and by a script the shell runs: Ctrl-Z
	// must stop the whole job either way, or the shell never gets the
	// terminal back.
	forms := map[string]func(string) string{
		"direct":      func(c string) string { return c },
		"in a script": func(c string) string { return "sh -c '" + c + "; true'" },
	}
	for name, wrap := range forms {
		t.Run(name, func(t *testing.T) {
			sc := sigcount(t)
			dir := t.TempDir()
			rec := filepath.Join(dir, "record")
			tty := openPTY(t)
			const ps1 = "sigtest$ "
			env := append(os.Environ(), "PS1="+ps1, "PS2=", "PROMPT_COMMAND=", "TERM=dumb", "HISTFILE=", "INPUTRC=/dev/null")
			sh := tty.start(t, env, bash, "--norc", "--noprofile", "-i")
			defer func() {
				if t.Failed() {
					t.Logf("terminal:\n%q", tty.output())
				}
			}()
			prompt := regexp.MustCompile(regexp.QuoteMeta(ps1))

			_, at := tty.waitOutput(t, prompt, 0)
			tty.typeKeys(t, wrap("sole run --lock "+filepath.Join(dir, "x.pid")+" -- "+sc+" "+rec)+"\r")
			waitReady(t, rec)

			tty.typeKeys(t, "\x1a")
			_, at = tty.waitOutput(t, regexp.MustCompile(`Stopped`), at)
			_, at = tty.waitOutput(t, prompt, at)
			if _, counts := readRecord(t, rec); len(counts) != 0 {
				t.Errorf("COMMAND got %v from Ctrl-Z", counts)
			}

			tty.typeKeys(t, "fg\r")
			// bash names the job it resumes, then hands it the terminal; Ctrl-C
			// before that would interrupt bash instead.
			_, at = tty.waitOutput(t, regexp.MustCompile(`sole run --lock [^\r\n]*\r?\n`), at)
			for end := time.Now().Add(sigDeadline); ; time.Sleep(5 * time.Millisecond) {
				fg, err := tty.foreground()
				if err != nil {
					t.Fatalf("TIOCGPGRP: %v", err)
				}
				if fg != sh.pid {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("the resumed job did not get the terminal within %v", sigDeadline)
				}
			}
			tty.typeKeys(t, "\x03")
			_, at = tty.waitOutput(t, prompt, at)
			checkCounts(t, rec, map[string]int{"INT": 1})

			tty.typeKeys(t, "echo status=$?\r")
			m, _ := tty.waitOutput(t, regexp.MustCompile(`status=([0-9]+)`), at)
			if m[1] != "0" && m[1] != strconv.Itoa(128+int(syscall.SIGINT)) {
				t.Errorf("sole exited %s, want 0 (COMMAND's status) or 130", m[1])
			}
			tty.typeKeys(t, "exit\r")
			if code := sh.wait(t); code != 0 {
				t.Errorf("bash exited %d", code)
			}
		})
	}
}
