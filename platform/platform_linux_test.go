//go:build linux

package platform

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A /proc/PID/stat line of Linux 6.1, starttime 87728.
const realStat = "30387 (cat) R 30385 30385 2096 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 87728 3133440 394 18446744073709551615 94251302100992 94251302120873 140730684850608 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94251302136880 94251302138496 94252203655168 140730684852930 140730684852950 140730684852950 140730684854251 0\n"

// statLine is a /proc/PID/stat line of process pid with command name comm
// and starttime ticks.
func statLine(pid int, comm string, ticks uint64) string {
	return fmt.Sprintf("%d (%s) S 1 2 3 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %d 12345 67 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n", pid, comm, ticks)
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{name: "real", in: realStat, want: 87728},
		{name: "no-newline", in: strings.TrimSuffix(realStat, "\n"), want: 87728},
		{name: "simple", in: statLine(1, "systemd", 1), want: 1},
		{name: "zero", in: statLine(1, "init", 0), want: 0},
		{name: "max", in: statLine(1, "x", math.MaxUint64), want: math.MaxUint64},
		{name: "spaces", in: statLine(42, "my prog 1 2 3", 99), want: 99},
		{name: "paren", in: statLine(42, "a) R 1 2", 7777), want: 7777},
		{name: "parens", in: statLine(42, ") ) (", 5), want: 5},
		{name: "all-parens", in: statLine(42, "))))))))))))))", 6), want: 6},
		{name: "open-paren", in: statLine(42, "((", 8), want: 8},
		{name: "empty-comm", in: statLine(42, "", 9), want: 9},
		{name: "newline-comm", in: statLine(42, "a\nb", 10), want: 10},
		{name: "fake-fields", in: statLine(42, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20)", 11), want: 11},
		{name: "tabs", in: "5 (x)\tS 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0\t123\n", want: 123},
		{name: "exactly-22-fields", in: "5 (x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123", want: 123},

		{name: "empty", in: "", wantErr: true},
		{name: "no-parens", in: "1 systemd S 1 2 3", wantErr: true},
		{name: "no-close", in: "1 (systemd S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123", wantErr: true},
		{name: "close-before-open", in: "1 )x( S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123", wantErr: true},
		{name: "no-pid", in: "(x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123", wantErr: true},
		{name: "bad-pid", in: "-1 (x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123", wantErr: true},
		{name: "short", in: "5 (x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", wantErr: true},
		{name: "after-paren-only", in: "5 (x)", wantErr: true},
		{name: "negative", in: "5 (x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -123 0", wantErr: true},
		{name: "plus", in: "5 (x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 +123 0", wantErr: true},
		{name: "hex", in: "5 (x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0x7b 0", wantErr: true},
		{name: "overflow", in: "5 (x) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551616 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseStat(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStat(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzParseStat checks that parseStat does not panic, that what it accepts
// it reads from the field after the last ')', and that any command name,
// embedded in an otherwise well-formed line, parses to the line's
// starttime.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte(realStat), uint64(87728))
	f.Add([]byte(statLine(42, "a) R 1 2", 7777)), uint64(1))
	f.Add([]byte("x y)"), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, ticks uint64) {
		got, err := parseStat(data)
		if err == nil {
			// The number came from the input, and fields beyond the
			// 22nd do not matter.
			if !bytes.Contains(data, []byte(strconv.FormatUint(got, 10))) {
				t.Errorf("parseStat(%q) = %d, which is not in the input", data, got)
			}
			more := append(bytes.Clone(data), " 1 (2) 3\n"...)
			if got2, err := parseStat(more); err == nil || got2 != 0 {
				// ")" in the appended text makes it the last one.
				t.Errorf("parseStat(%q) = %d, %v; want an error", more, got2, err)
			}
			more = append(bytes.Clone(data), " 1 2 3\n"...)
			if got2, err := parseStat(more); err != nil || got2 != got {
				t.Errorf("parseStat(%q) = %d, %v; want %d as without the extra fields", more, got2, err, got)
			}
		}

		line := statLine(12345, string(data), ticks)
		got, err = parseStat([]byte(line))
		if err != nil || got != ticks {
			t.Fatalf("parseStat(%q) = %d, %v; want %d", line, got, err, ticks)
		}
		// Cut before starttime: too few fields.
		short := line[:strings.LastIndex(line, " "+strconv.FormatUint(ticks, 10)+" 12345 ")]
		if got, err := parseStat([]byte(short)); err == nil {
			t.Errorf("parseStat(%q) = %d, want an error", short, got)
		}
	})
}

func TestParseBtime(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{name: "real", in: "cpu  63646 0 14601 92941 1401 0 293 2711 0 0\ncpu0 31306 0 7110 47592 305 0 161 1314 0 0\nintr 1883217 0 0 0\nctxt 3518520\nbtime 1795344556\nprocesses 30423\nprocs_running 2\n", want: 1795344556},
		{name: "first", in: "btime 1\ncpu 1 2 3\n", want: 1},
		{name: "last-no-newline", in: "cpu 1 2 3\nbtime 1700000000", want: 1700000000},
		{name: "crlf", in: "btime 1700000000\r\n", want: 1700000000},
		{name: "zero", in: "btime 0\n", want: 0},
		{name: "not-prefix", in: "xbtime 5\nbtime 6\n", want: 6},

		{name: "empty", in: "", wantErr: true},
		{name: "missing", in: "cpu 1 2 3\nctxt 5\n", wantErr: true},
		{name: "no-space", in: "btime\n", wantErr: true},
		{name: "no-value", in: "btime \n", wantErr: true},
		{name: "negative", in: "btime -5\n", wantErr: true},
		{name: "garbage", in: "btime 12x\n", wantErr: true},
		{name: "two-values", in: "btime 1 2\n", wantErr: true},
		{name: "overflow", in: "btime 9223372036854775808\n", wantErr: true},
		{name: "indented", in: " btime 5\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBtime([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseBtime(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseBtime(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStartTime(t *testing.T) {
	tests := []struct {
		name    string
		btime   int64
		ticks   uint64
		want    time.Time
		wantErr bool
	}{
		{name: "boot", btime: 1700000000, ticks: 0, want: time.Unix(1700000000, 0)},
		{name: "ticks", btime: 1700000000, ticks: 12345, want: time.Unix(1700000123, 450_000_000)},
		{name: "one-tick", btime: 0, ticks: 1, want: time.Unix(0, 10_000_000)},
		{name: "huge", btime: 1700000000, ticks: math.MaxUint64, wantErr: true},
		{name: "edge", btime: 1 << 40, ticks: (1<<40)*100 + 99, want: time.Unix(1<<41, 990_000_000)},
		{name: "ticks-over-edge", btime: 0, ticks: (1<<40 + 1) * 100, wantErr: true},
		{name: "btime-over-edge", btime: 1<<40 + 1, ticks: 0, wantErr: true},
		{name: "max-btime", btime: math.MaxInt64, ticks: 0, wantErr: true},
		{name: "negative-btime", btime: -1, ticks: 5, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := startTime(tt.btime, tt.ticks)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("startTime(%d, %d) = %v, want an error", tt.btime, tt.ticks, got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("startTime(%d, %d) = %v, %v; want %v", tt.btime, tt.ticks, got, err, tt.want)
			}
		})
	}
}

// TestProcSelf checks the parsers on this system's own files.
func TestProcSelf(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseStat(b); err != nil {
		t.Errorf("parseStat(%q): %v", b, err)
	}
	b, err = os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	btime, err := parseBtime(b)
	if err != nil {
		t.Fatalf("parseBtime(/proc/stat): %v", err)
	}
	if bt := time.Unix(btime, 0); bt.After(initTime) {
		t.Errorf("boot time %v is after the start of this test %v", bt, initTime)
	}
}

// TestProcessZombie checks that a process that has exited but not been
// reaped still has a name and a start time, and has neither once reaped.
func TestProcessZombie(t *testing.T) {
	cmd := exec.Command("sleep", "0")
	before := time.Now()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	after := time.Now()
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	pid := cmd.Process.Pid
	// Wait for the state "Z" without reaping.
	statPath := procPath(pid, "stat")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(statPath)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && bytes.HasPrefix(b[i:], []byte(") Z ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d is not a zombie after 5s: %s", pid, b)
		}
	}
	if name, err := ProcessName(pid); err != nil || name != "sleep" {
		t.Errorf("ProcessName(zombie %d) = %q, %v; want \"sleep\"", pid, name, err)
	}
	st, err := ProcessStartTime(pid)
	if err != nil {
		t.Errorf("ProcessStartTime(zombie %d): %v", pid, err)
	} else if lo, hi := before.Add(-2*time.Second), after.Add(2*time.Second); st.Before(lo) || st.After(hi) {
		t.Errorf("ProcessStartTime(zombie %d) = %v, want within [%v, %v]", pid, st, lo, hi)
	}

	cmd.Wait()
	waited = true
	if _, err := ProcessName(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ProcessName(reaped %d) error = %v, want ErrNoProcess", pid, err)
	}
}

// TestProcessNameLong checks the 15-byte limit with a process whose
// executable has a long name.
func TestProcessNameLong(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	exe := t.TempDir() + "/a-very-long-executable-name"
	if err := os.Symlink(sleep, exe); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "5")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start %s: %v", exe, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	const want = "a-very-long-exe" // 15 bytes
	var name string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		name, err = ProcessName(cmd.Process.Pid)
		if err != nil || name == want || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || name != want {
		t.Errorf("ProcessName(%d) = %q, %v; want %q", cmd.Process.Pid, name, err, want)
	}
}

func TestReadProcErrors(t *testing.T) {
	// A pid with no /proc entry but which kill(2) finds is reported as
	// hidden, not as ErrNoProcess: use a file that does not exist.
	_, err := readProc(os.Getpid(), "no-such-file")
	if err == nil || errors.Is(err, ErrNoProcess) {
		t.Errorf("readProc(self, no-such-file) error = %v, want one other than ErrNoProcess", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("readProc(self, no-such-file) error = %v, want one matching fs.ErrNotExist", err)
	}
}
