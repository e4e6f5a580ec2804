//go:build unix

package solecmd

import (
	"bufio"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/fleet"
)

// guardCmd is the hidden command of the guard: a process that sole starts
// beside COMMAND under the fleet lock, of a process group of its own, and
// that kills COMMAND's process group (SIGKILL) when
//   - sole ends, however it ends: the end of file of a pipe only sole
//     holds, even after sole's SIGKILL (the kernel's parent-death signal
//     reaches COMMAND alone; the guard reaches the processes it started,
//     and on macOS and the BSDs COMMAND itself);
//   - the deadline sole last gave it passes: sole frozen (SIGSTOP, a
//     debugger) cannot stop COMMAND itself before the lease can expire.
//
// Its standard input carries lines: COMMAND's process group first; then
// "d NS", the deadline as nanoseconds of guardClock; and "done" when sole
// ended COMMAND's tree itself, after which the guard exits at once.
var guardCmd = &cli.Command{
	Name:   "__fleet-guard",
	Hidden: true,
	Run: func(_ *cli.Command, _ []string, _, _ io.Writer) int {
		// It ignores the signals a terminal or a service manager sends to
		// a job: sole's end is its signal.
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
		return runGuard(os.Stdin)
	},
}

func runGuard(in io.Reader) int {
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	first := <-lines
	if first == "done" || first == "" {
		// sole gave up before COMMAND started.
		return cli.ExitOK
	}
	pg, err := strconv.Atoi(first)
	if err != nil || pg <= 1 {
		return cli.ExitUsage
	}
	kill := func() int {
		_ = syscall.Kill(-pg, syscall.SIGKILL)
		return cli.ExitOK
	}
	var deadline int64 // 0: none yet
	for {
		// The clock is read again at least every 200 ms: a timer does not
		// count a suspend, and guardClock (CLOCK_BOOTTIME on Linux) does.
		wait := 200 * time.Millisecond
		if deadline != 0 {
			left := time.Duration(deadline - guardNow())
			if left <= 0 {
				return kill()
			}
			wait = min(wait, left)
		}
		t := time.NewTimer(wait)
		select {
		case l, ok := <-lines:
			t.Stop()
			switch {
			case !ok:
				return kill()
			case l == "done":
				return cli.ExitOK
			case strings.HasPrefix(l, "d "):
				if d, err := strconv.ParseInt(l[2:], 10, 64); err == nil {
					deadline = d
				}
			}
		case <-t.C:
		}
	}
}

// guardNow reads guardClock, in nanoseconds: a clock that sole and its
// guard share, system-wide.
func guardNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(guardClock, &ts); err != nil {
		return time.Now().UnixNano()
	}
	return ts.Nano()
}

// EnvGuard is how sole tells sole-fleet where sole is, when it execs it:
// the guard runs as the small sole rather than as sole-fleet, which takes
// milliseconds more to start (etcd's client). sole-fleet takes it out of
// its environment (Main), so that COMMAND never sees it.
const EnvGuard = "SOLE_FLEET_GUARD"

// guardExe is the program the guard runs as: EnvGuard's, or this one.
var guardExe string

// guard is sole's end of the guard's standard input.
type guard struct {
	mu     sync.Mutex
	w      *os.File
	closed bool
	stop   chan struct{}
}

// startGuard starts the guard (see guardCmd) as a process of its own
// group, before COMMAND starts, so that no COMMAND ever runs unguarded.
func startGuard() (*guard, error) {
	self := guardExe
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer devnull.Close()
	pid, _, err := children.start(func() (int, error) {
		return syscall.ForkExec(self, []string{"sole", guardCmd.Name}, &syscall.ProcAttr{
			Env:   []string{},
			Files: []uintptr{r.Fd(), devnull.Fd(), 2},
			Sys:   &syscall.SysProcAttr{Setpgid: true},
		})
	})
	if err != nil {
		w.Close()
		return nil, err
	}
	noteGuard(pid)
	return &guard{w: w, stop: make(chan struct{})}, nil
}

func (g *guard) send(line string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		_, _ = g.w.WriteString(line + "\n")
	}
}

// watch gives the guard COMMAND's process group, and then, as long as
// COMMAND runs, the deadline of h: half way through the margin before the
// lease can expire, when sole itself would send SIGKILL.
func (g *guard) watch(pgid int, h fleet.Hold) {
	if g == nil {
		return
	}
	g.send(strconv.Itoa(pgid))
	if h == nil {
		return
	}
	half := fleet.Margin(h.TTL()) / 2
	go func() {
		var last time.Time
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if e := h.Expiry(); !e.Equal(last) {
				last = e
				g.send("d " + strconv.FormatInt(guardNow()+int64(time.Until(e.Add(-half))), 10))
			}
			select {
			case <-g.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// done tells the guard that COMMAND's tree is gone, and lets it exit.
func (g *guard) done() {
	if g == nil {
		return
	}
	g.send("done")
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		close(g.stop)
		g.w.Close()
	}
}

// takeGuardExe takes EnvGuard out of the environment, keeping a program
// it names that can be run.
func takeGuardExe() {
	p, ok := os.LookupEnv(EnvGuard)
	if !ok {
		return
	}
	os.Unsetenv(EnvGuard)
	if fleetBackend != nil && checkExecutable(p) == nil {
		guardExe = p
	}
}
