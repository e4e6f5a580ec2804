package pidlock

import (
	"strconv"
	"strings"
	"testing"
)

const sampleLocks = `1: POSIX  ADVISORY  WRITE 811 00:1a:1001 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4321 fd:01:9999 0 EOF
3: FLOCK  ADVISORY  READ 77 fd:01:4242 0 EOF
4: OFDLCK ADVISORY  WRITE -1 fd:01:3333 0 EOF
5: FLOCK  ADVISORY  WRITE 0 103:0a:123456789012 0 EOF
6: FLOCK  ADVISORY  WRITE 9 10:00:77 0 EOF
`

func TestProcLocksHas(t *testing.T) {
	tests := map[string]struct {
		major, minor uint32
		ino          uint64
		want         bool
	}{
		"held flock":         {0xfd, 1, 5678, true},
		"big device and ino": {0x103, 0xa, 123456789012, true},
		"waiter only":        {0xfd, 1, 9999, false},
		"shared flock":       {0xfd, 1, 4242, true},
		"posix lock":         {0, 0x1a, 1001, false},
		"ofd lock":           {0xfd, 1, 3333, false},
		"other device":       {0xfe, 1, 5678, false},
		"other inode":        {0xfd, 1, 5679, false},
		"device is hex":      {16, 0, 77, true},
		"device is not dec":  {10, 0, 77, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := procLocksHas([]byte(sampleLocks), tt.major, tt.minor, tt.ino); got != tt.want {
				t.Fatalf("procLocksHas(%x:%x:%d) = %v, want %v", tt.major, tt.minor, tt.ino, got, tt.want)
			}
		})
	}
}

// refProcLocksHas is a plainer reading of /proc/locks for the fuzzer to
// compare against.
func refProcLocksHas(text string, major, minor uint32, ino uint64) bool {
	for _, line := range strings.Split(text, "\n") {
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) < 6 || f[1] != "FLOCK" || (f[3] != "WRITE" && f[3] != "READ") {
			continue
		}
		p := strings.Split(f[5], ":")
		if len(p) != 3 {
			continue
		}
		ma, err1 := strconv.ParseUint(p[0], 16, 32)
		mi, err2 := strconv.ParseUint(p[1], 16, 32)
		in, err3 := strconv.ParseUint(p[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || strings.HasPrefix(p[0], "+") || strings.HasPrefix(p[1], "+") || strings.HasPrefix(p[2], "+") {
			continue
		}
		if uint32(ma) == major && uint32(mi) == minor && in == ino {
			return true
		}
	}
	return false
}

func FuzzProcLocks(f *testing.F) {
	f.Add(sampleLocks, uint32(0xfd), uint32(1), uint64(5678))
	f.Add("1: FLOCK ADVISORY WRITE 1 0:0:0 0 EOF", uint32(0), uint32(0), uint64(0))
	f.Fuzz(func(t *testing.T, text string, major, minor uint32, ino uint64) {
		got := procLocksHas([]byte(text), major, minor, ino)
		if want := refProcLocksHas(text, major, minor, ino); got != want {
			t.Fatalf("procLocksHas(%q, %x:%x:%d) = %v, reference says %v", text, major, minor, ino, got, want)
		}
	})
}
