//go:build unix

package solecmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/solehq/sole/internal/cli"
	"github.com/solehq/sole/internal/fsutil"
	"github.com/solehq/sole/internal/testenv"
)

// The unprivileged user the test runs sole as.
const (
	nobodyUID = 65534
	nobodyGID = 65534
)

// needRootAndSetpriv returns setpriv(1)'s path, for a test that runs
// processes as another user.
func needRootAndSetpriv(t *testing.T) string {
	t.Helper()
	testenv.NeedRoot(t, fmt.Sprintf("to run sole as uid %d", nobodyUID))
	return testenv.NeedTool(t, "setpriv", "util-linux")
}

// nobodyDir makes a directory in parent that nobody may use as its own
// (mode 0700, owned by nobody).
func nobodyDir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, nobodyUID, nobodyGID); err != nil {
		t.Fatal(err)
	}
	return d
}

// wantNobodyLockDir is, independently of platform.LockDir, nobody's
// lock directory on this machine.
func wantNobodyLockDir(t *testing.T) string {
	t.Helper()
	id := "sole-" + strconv.Itoa(nobodyUID)
	fi, err := os.Lstat("/run/lock")
	if err == nil && fi.IsDir() && fi.Sys().(*syscall.Stat_t).Uid == 0 && fi.Mode()&os.ModeSticky != 0 && fi.Mode().Perm()&0o003 == 0o003 {
		return "/run/lock/" + id
	}
	t.Logf("/run/lock is not root's, sticky and world-writable (%v, %v): the lock is under /tmp", fi, err)
	return "/tmp/" + id
}

// TestUserScopeOneLockPerUser: one user's `sole run --name N` is one lock
// whatever the environment. A holder started as nobody from a login shell
// (XDG_RUNTIME_DIR=/run/user/65534) keeps every other start of N by nobody
// out, from cron (no XDG_RUNTIME_DIR, no TMPDIR), ssh (another TMPDIR),
// systemd --user (another XDG_RUNTIME_DIR) and after logout (the runtime
// directory removed) and a new login: each exits 75 naming the holder, and
// `sole status N` in each names the same holder at the same lock.
func TestUserScopeOneLockPerUser(t *testing.T) {
	setpriv := needRootAndSetpriv(t)

	// The test binary, which acts as sole when called so, where nobody
	// can run it.
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(base, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sole := filepath.Join(bin, "sole")
	if err := fsutil.CopyFile(sole, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	// Where the holder says it started and waits for its release.
	hold := nobodyDir(t, base, "hold")
	otherTmp := nobodyDir(t, base, "tmp")
	otherRuntime := nobodyDir(t, base, "systemd-user-runtime")

	// The login session's runtime directory, which logind would make and
	// remove at the last logout. A real one of nobody's is left alone: then
	// the test plays logind in a directory of its own.
	runtimeDir := "/run/user/" + strconv.Itoa(nobodyUID)
	if _, err := os.Lstat(runtimeDir); err == nil || !isDir("/run/user") {
		runtimeDir = filepath.Join(base, "run-user-"+strconv.Itoa(nobodyUID))
	}
	login := func() {
		if err := os.Mkdir(runtimeDir, 0o700); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		if err := os.Chown(runtimeDir, nobodyUID, nobodyGID); err != nil {
			t.Fatal(err)
		}
	}
	logout := func() {
		if err := os.RemoveAll(runtimeDir); err != nil {
			t.Error(err)
		}
	}
	login()
	t.Cleanup(logout)

	// A name of this run's own, so that leftovers of another run never
	// collide with it.
	name := fmt.Sprintf("userscope-%d-%d", os.Getpid(), time.Now().UnixNano())
	lockDir := filepath.Join(wantNobodyLockDir(t), name)
	lock := filepath.Join(lockDir, name+".pid")
	t.Cleanup(func() {
		if err := os.RemoveAll(lockDir); err != nil {
			t.Errorf("removing %s: %v", lockDir, err)
		}
	})

	common := []string{
		"PATH=" + bin + ":/usr/bin:/bin",
		"HOME=/nonexistent", "SHELL=/bin/sh", "LOGNAME=nobody",
		"GORACE=" + os.Getenv("GORACE"),
	}
	env := func(more ...string) []string { return append(append([]string(nil), common...), more...) }
	loginEnv := env("USER=nobody", "XDG_RUNTIME_DIR="+runtimeDir, "XDG_SESSION_TYPE=tty")
	// asNobody runs sole as nobody with exactly the environment env.
	asNobody := func(env []string, args ...string) *exec.Cmd {
		argv := []string{
			"--reuid=" + strconv.Itoa(nobodyUID), "--regid=" + strconv.Itoa(nobodyGID), "--clear-groups",
			"/usr/bin/env", "-i",
		}
		argv = append(argv, env...)
		argv = append(argv, sole)
		cmd := exec.Command(setpriv, append(argv, args...)...)
		cmd.Dir = base
		return cmd
	}

	// The holder, from a login shell.
	holder := asNobody(loginEnv, append([]string{"run", "--name", name, "--"}, holdScript(hold)...)...)
	var holderErr bytes.Buffer
	holder.Stderr = &holderErr
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- holder.Wait() }()
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(hold, "release"), nil, 0o644)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			// The process group of the holder we started: sole and its
			// command.
			syscall.Kill(-holder.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	waitFile(t, lock)
	var pid string
	for deadline := time.Now().Add(30 * time.Second); pid == ""; time.Sleep(2 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(hold, "started.*")); len(m) == 1 {
			pid = strings.TrimPrefix(filepath.Ext(m[0]), ".")
		} else if time.Now().After(deadline) {
			t.Fatalf("the holder did not start its command: %s", holderErr.String())
		}
	}
	refused := regexp.MustCompile(`^sole: ` + regexp.QuoteMeta(name) + ` is already running \(pid ` + pid + `, sh, since [0-9]{2}:[0-9]{2}:[0-9]{2}\)\n$`)
	running := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + ` is running \(pid ` + pid + `, sh, since [0-9]{2}:[0-9]{2}:[0-9]{2}\)\n$`)

	// check starts N in env, which must be refused, and asks for its
	// status, which must name the holder at lock.
	check := func(t *testing.T, env []string) {
		t.Helper()
		start := asNobody(env, "run", "--name", name, "--", "sh", "-c", "touch \"$1/second\"", "sh", hold)
		var stderr bytes.Buffer
		start.Stderr = &stderr
		if code := exitCode(start.Run()); code != cli.ExitTempFail || !refused.MatchString(stderr.String()) {
			t.Errorf("second start: exit %d, stderr %q; want %d and one line naming pid %s", code, stderr.String(), cli.ExitTempFail, pid)
		}
		if _, err := os.Stat(filepath.Join(hold, "second")); err == nil {
			t.Fatalf("a second instance ran beside the holder")
		}
		out, err := asNobody(env, "status", name).Output()
		if code := exitCode(err); code != 0 || !running.Match(out) {
			t.Errorf("sole status %s: exit %d, %q; want 0 and the holder, pid %s", name, code, out, pid)
		}
		out, err = asNobody(env, "status", "--json", "--name", name).Output()
		var st struct {
			Lock  string `json:"lock"`
			State string `json:"state"`
			PID   int    `json:"pid"`
		}
		if jerr := json.Unmarshal(out, &st); err != nil || jerr != nil || st.Lock != lock || st.State != "running" || strconv.Itoa(st.PID) != pid {
			t.Errorf("sole status --json %s: %v, %v: %s; want the lock %s running as pid %s", name, err, jerr, out, lock, pid)
		}
	}
	for _, tc := range []struct {
		name   string
		env    []string
		before func()
	}{
		{name: "login", env: loginEnv},
		{name: "cron", env: env()},
		{name: "ssh", env: env("USER=nobody", "XDG_RUNTIME_DIR="+runtimeDir, "TMPDIR="+otherTmp, "SSH_CONNECTION=192.0.2.1 50000 192.0.2.2 22")},
		{name: "systemd-user", env: env("USER=nobody", "XDG_RUNTIME_DIR="+otherRuntime, "MANAGERPID=1")},
		{name: "after-logout", env: loginEnv, before: logout},
		{name: "new-login", env: loginEnv, before: login},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			check(t, tc.env)
		})
	}

	// Released, the holder exits 0 and the next start runs.
	if err := os.WriteFile(filepath.Join(hold, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Fatalf("the holder: %v: %s", err, holderErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the holder did not exit once released")
	}
	if out, err := asNobody(env(), "run", "--name", name, "--", "true").CombinedOutput(); err != nil {
		t.Fatalf("a start from cron after the holder exited: %v: %s", err, out)
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
