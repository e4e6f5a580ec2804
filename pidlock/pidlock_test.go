package pidlock

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := map[string]struct {
		in      string
		pid     int
		name    string
		wantErr string
	}{
		"ok":              {in: "1234\nbackup.sh\n", pid: 1234, name: "backup.sh"},
		"crlf":            {in: "1234\r\nbackup.sh\r\n", pid: 1234, name: "backup.sh"},
		"max pid":         {in: "2147483647\nx\n", pid: 1<<31 - 1, name: "x"},
		"name with space": {in: "7\nmy daemon\n", pid: 7, name: "my daemon"},
		"empty":           {in: "", wantErr: "empty"},
		"truncated pid":   {in: "12", wantErr: "truncated"},
		"truncated name":  {in: "12\nback", wantErr: "truncated"},
		"one line":        {in: "12\n", wantErr: "truncated"},
		"three lines":     {in: "12\nx\ny\n", wantErr: "more than two lines"},
		"non-numeric":     {in: "abc\nx\n", wantErr: "not a number"},
		"negative":        {in: "-5\nx\n", wantErr: "not a number"},
		"plus":            {in: "+5\nx\n", wantErr: "not a number"},
		"zero":            {in: "0\nx\n", wantErr: "zero"},
		"leading zero":    {in: "012\nx\n", wantErr: "leading zeros"},
		"too big":         {in: "2147483648\nx\n", wantErr: "out of range"},
		"11 digits":       {in: "99999999999\nx\n", wantErr: "not a number"},
		"space in pid":    {in: " 12\nx\n", wantErr: "not a number"},
		"empty name":      {in: "12\n\n", wantErr: "name length"},
		"long name":       {in: "12\n" + long + "\n", wantErr: "name length"},
		"binary":          {in: "\x00\x01\xff\n\x02\n", wantErr: "not a number"},
		"control in name": {in: "12\na\x00b\n", wantErr: "control"},
		"several MB":      {in: strings.Repeat("9", 5<<20), wantErr: "too long"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pid, pname, err := parseRecord([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errNoRecord) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseRecord(%.40q) = %d, %q, %v; want error containing %q", tt.in, pid, pname, err, tt.wantErr)
				}
				return
			}
			if err != nil || pid != tt.pid || pname != tt.name {
				t.Fatalf("parseRecord(%q) = %d, %q, %v; want %d, %q", tt.in, pid, pname, err, tt.pid, tt.name)
			}
		})
	}
}

func TestFormatRecord(t *testing.T) {
	tests := map[string]struct {
		pid  int
		name string
		want string
	}{
		"plain":      {1234, "backup.sh", "1234\nbackup.sh\n"},
		"newline":    {5, "a\nb", "5\na?b\n"},
		"empty name": {9, "", "9\n?\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := string(formatRecord(tt.pid, tt.name))
			if got != tt.want {
				t.Fatalf("formatRecord(%d, %q) = %q, want %q", tt.pid, tt.name, got, tt.want)
			}
			pid, _, err := parseRecord([]byte(got))
			if err != nil || pid != tt.pid {
				t.Fatalf("parseRecord(formatRecord) = %d, %v", pid, err)
			}
		})
	}
}

// FuzzParseRecord checks that no input panics, that an accepted record
// formats back to itself, and that what formatRecord writes is accepted.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"1234\nbackup.sh\n", "", "0\nx\n", "1\r\nx\r\n", "12\nx\ny\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, name, err := parseRecord(b)
		if err != nil {
			if !errors.Is(err, errNoRecord) {
				t.Fatalf("error %v does not wrap errNoRecord", err)
			}
			return
		}
		if pid <= 0 || name == "" {
			t.Fatalf("accepted pid %d name %q", pid, name)
		}
		out := formatRecord(pid, name)
		if !bytes.Equal(out, b) && !bytes.Equal(out, bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))) {
			t.Fatalf("round trip: %q -> %q", b, out)
		}
		if p2, n2, err := parseRecord(out); err != nil || p2 != pid || n2 != name {
			t.Fatalf("reparse %q: %d %q %v", out, p2, n2, err)
		}
	})
}

func TestValidName(t *testing.T) {
	tests := map[string]struct {
		name    string
		wantErr string
	}{
		"plain":     {name: "backup"},
		"dots":      {name: "backup.daily-1"},
		"unicode":   {name: "sauvegarde-é"},
		"empty":     {name: "", wantErr: "empty"},
		"slash":     {name: "a/b", wantErr: "'/'"},
		"backslash": {name: `Global\x`, wantErr: "backslash"},
		"dot":       {name: ".", wantErr: "starts with '.'"},
		"dotdot":    {name: "..", wantErr: "starts with '.'"},
		"hidden":    {name: ".x", wantErr: "starts with '.'"},
		"newline":   {name: "a\nb", wantErr: "control"},
		"nul":       {name: "a\x00b", wantErr: "control"},
		"invalid":   {name: "a\xffb", wantErr: "invalid"},
		"too long":  {name: strings.Repeat("n", 201), wantErr: "longer than 200"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidName(tt.name)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidName(%q) = %v", tt.name, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidName(%q) = %v, want error containing %q", tt.name, err, tt.wantErr)
			}
			if _, err := Named(tt.name); err == nil {
				t.Fatalf("Named(%q) succeeded", tt.name)
			}
		})
	}
}

func newLock(t *testing.T, opts ...Option) *Lock {
	t.Helper()
	l, err := New(filepath.Join(tempDir(t), "x.pid"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestTryLockUnlock(t *testing.T) {
	l := newLock(t)
	if err := l.TryLock(); err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	b, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	pid, name, err := parseRecord(b)
	if err != nil || pid != os.Getpid() || name != selfName() {
		t.Fatalf("record %q: %d %q %v; want pid %d", b, pid, name, err, os.Getpid())
	}

	// A second Lock on the same file, even in this process, is refused
	// and told who holds it.
	l2, _ := New(l.Path())
	err = l2.TryLock()
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second TryLock = %v, want a *LockedError wrapping ErrLocked", err)
	}
	if le.Holder == nil || le.Holder.PID != os.Getpid() || le.Holder.Process != name {
		t.Fatalf("holder = %+v, want pid %d %q", le.Holder, os.Getpid(), name)
	}
	if d := time.Since(le.Holder.Since); d < -time.Second || d > time.Minute {
		t.Fatalf("holder since %v: not now", le.Holder.Since)
	}
	if !strings.Contains(err.Error(), "already locked by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("error text %q", err)
	}
	if err := l.TryLock(); err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("TryLock while held by the same Lock = %v, want a plain error", err)
	}

	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if b, err := os.ReadFile(l.Path()); (err != nil && !errors.Is(err, os.ErrNotExist)) || len(b) != 0 {
		t.Fatalf("after Unlock the file holds %q, %v; want it empty or gone", b, err)
	}
	if err := l.Unlock(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second Unlock = %v, want ErrNotHeld", err)
	}
	// Lock, unlock, lock again.
	for i := range 3 {
		if err := l2.TryLock(); err != nil {
			t.Fatalf("round %d TryLock: %v", i, err)
		}
		if err := l2.Unlock(); err != nil {
			t.Fatalf("round %d Unlock: %v", i, err)
		}
	}
}

func TestDeferRecordAndSetHolder(t *testing.T) {
	l := newLock(t, DeferRecord())
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	st, err := l.Query()
	if err != nil || st.State != Starting || st.Holder != nil {
		t.Fatalf("Query before SetHolder = %+v, %v; want Starting", st, err)
	}
	l2, _ := New(l.Path())
	var le *LockedError
	if err := l2.TryLock(); !errors.As(err, &le) || le.Holder != nil {
		t.Fatalf("TryLock = %v; want LockedError without holder", err)
	}
	if !strings.Contains(le.Error(), "holder starting") {
		t.Fatalf("error %q", le)
	}
	if err := l.SetHolder(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	st, err = l.Query()
	if err != nil || st.State != Running || st.Holder.PID != os.Getpid() {
		t.Fatalf("Query after SetHolder = %+v, %v", st, err)
	}
}

func TestLockContext(t *testing.T) {
	holder := newLock(t)
	if err := holder.TryLock(); err != nil {
		t.Fatal(err)
	}
	waiter, _ := New(holder.Path())

	before := goruntime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := waiter.Lock(ctx)
	if !errors.Is(err, ErrLocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with deadline = %v; want ErrLocked and DeadlineExceeded", err)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != os.Getpid() {
		t.Fatalf("Lock error %v does not name the holder", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := waiter.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock cancelled = %v; want Canceled", err)
	}
	// Nothing is left waiting.
	deadline := time.Now().Add(2 * time.Second)
	for goruntime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after cancel, %d before", n, before)
	}

	// Released while waiting: the waiter gets it.
	go func() { time.Sleep(30 * time.Millisecond); holder.Unlock() }()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waiter.Lock(ctx); err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	waiter.Unlock()
}

func TestQuery(t *testing.T) {
	l := newLock(t)
	st, err := l.Query()
	if err != nil || st.State != NotRunning {
		t.Fatalf("Query of missing file = %+v, %v; want NotRunning", st, err)
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	st, err = l.Query()
	if err != nil || st.State != Running || st.Holder == nil || st.Holder.PID != os.Getpid() {
		t.Fatalf("Query while held = %+v, %v; want Running by us", st, err)
	}
	l.Unlock()
	st, err = l.Query()
	if err != nil || st.State != NotRunning {
		t.Fatalf("Query after Unlock = %+v, %v; want NotRunning", st, err)
	}
}

// TestBadRecords: whatever sits in the file, Query gives an answer and
// nothing panics or hangs. An empty file or a record (a dead holder's) is
// a lock file: TryLock takes it and replaces the record. Anything else is
// somebody's file, not a lock: Query says so, TryLock refuses it with a
// *PathError, and its bytes are left exactly as they were.
func TestBadRecords(t *testing.T) {
	tests := map[string]struct {
		content   string
		wantState State // for a lock file
		notLock   bool
	}{
		"empty":           {content: "", wantState: NotRunning},
		"valid dead":      {content: "2147483647\nghost\n", wantState: Stale},
		"crlf record":     {content: "2147483647\r\nghost\r\n", wantState: Stale},
		"truncated":       {content: "123", notLock: true},
		"binary":          {content: "\x00\xff\xfe\x01", notLock: true},
		"several MB":      {content: strings.Repeat("1234\n", 1<<20), notLock: true},
		"non-numeric":     {content: "abc\nx\n", notLock: true},
		"negative":        {content: "-1\nx\n", notLock: true},
		"zero":            {content: "0\nx\n", notLock: true},
		"pid only":        {content: "1234\n", notLock: true},
		"text notes":      {content: "remember the milk\n", notLock: true},
		"three lines":     {content: "12\nx\ny\n", notLock: true},
		"name too long":   {content: "12\n" + strings.Repeat("x", 256) + "\n", notLock: true},
		"nul in the name": {content: "12\nx\x00y\n", notLock: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			l := newLock(t)
			if err := os.WriteFile(l.Path(), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := l.Query()
			if tt.notLock {
				var pe *PathError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), "not a lock record") {
					t.Fatalf("Query = %+v, %v; want a *PathError saying it is not a lock record", st, err)
				}
				err := l.TryLock()
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), "not a lock record") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("TryLock = %v; want a one-line *PathError saying it is not a lock record", err)
				}
				if b, _ := os.ReadFile(l.Path()); string(b) != tt.content {
					t.Fatalf("the file changed: %q", b)
				}
				return
			}
			if err != nil || st.State != tt.wantState {
				t.Fatalf("Query = %+v, %v; want %v", st, err, tt.wantState)
			}
			if tt.wantState == Stale && (st.Holder == nil || st.Holder.Process != "ghost") {
				t.Fatalf("stale holder = %+v", st.Holder)
			}
			if err := l.TryLock(); err != nil {
				t.Fatalf("TryLock: %v", err)
			}
			defer l.Unlock()
			b, _ := os.ReadFile(l.Path())
			if pid, _, err := parseRecord(b); err != nil || pid != os.Getpid() {
				t.Fatalf("record after TryLock %q: %v", b, err)
			}
		})
	}
}
