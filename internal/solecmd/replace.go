package solecmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/solehq/sole/pidlock"
)

// holderProc is a process that holds a lock, as the kernel reports it.
type holderProc struct {
	pid, ppid, pgid int
	name            string
	start           time.Time
}

// key tells one process from a later one that reuses its pid.
type procKey struct {
	pid   int
	start int64
}

func (p holderProc) key() procKey { return procKey{p.pid, p.start.UnixNano()} }

func (p holderProc) String() string { return "pid " + strconv.Itoa(p.pid) + " (" + p.name + ")" }

// errGone is the error of signalProc for a process that no longer holds
// the lock (it exited, or its pid now names another process): nothing was
// sent.
var errGone = errors.New("no longer holds the lock")

// replaceGrace is how long past 2×--stop-timeout a replace goes on, for
// the last SIGKILL to take effect.
const replaceGrace = time.Second

// replaceError is the failure of --replace: what was sent to whom, and who
// holds the lock still.
type replaceError struct {
	locked  error // the last lock attempt's (wraps pidlock.ErrLocked)
	why     string
	sent    []string
	holders []holderProc
}

func (e *replaceError) Error() string {
	var b strings.Builder
	b.WriteString(e.why)
	if len(e.sent) > 0 {
		b.WriteString("; sent " + strings.Join(e.sent, ", "))
	} else {
		b.WriteString("; nothing was signalled")
	}
	if len(e.holders) > 0 {
		hs := make([]string, len(e.holders))
		for i, h := range e.holders {
			hs[i] = h.String()
		}
		b.WriteString("; held by " + strings.Join(hs, ", "))
	}
	return b.String()
}

func (e *replaceError) Unwrap() error { return e.locked }

// replaceHolder stops whoever holds the lock and takes it. The processes
// it signals are those the kernel says hold the lock (see findHolders),
// never a process merely named by the record. Each gets SIGTERM, then,
// if it still holds the lock --stop-timeout later, SIGKILL; one that
// takes the lock during the replace is asked the same way. A `sole run`
// that holds the lock forwards SIGTERM to its command's process group, so
// the members of that group are not sent a second one. The lock is only
// ever taken the ordinary way, from a holder that is gone, so however many
// others start meanwhile, no two run at once. The whole replace is bounded
// by 2×stopTimeout (plus a second for the last SIGKILL to take effect).
func replaceHolder(l *pidlock.Lock, stopTimeout time.Duration, sigs <-chan os.Signal) error {
	ctx, stop := signalContext(sigs)
	defer stop()
	deadline := time.Now().Add(2*stopTimeout + replaceGrace)
	asked := map[procKey]time.Time{} // when SIGTERM reached it
	killed := map[procKey]bool{}
	soles := map[procKey]bool{} // which holders are a sole run
	var sent []string
	note := func(sig string, p holderProc) { sent = append(sent, sig+" to "+p.String()) }
	var wait backoff
	unseen := 0 // looks in a row that saw no holder, before any was asked
	for {
		locked := l.TryLock()
		if !errors.Is(locked, pidlock.ErrLocked) {
			return locked
		}
		if cause := context.Cause(ctx); cause != nil {
			return errors.Join(locked, cause)
		}
		hs, herr := findHolders(l, holderOf(locked))
		if herr != nil {
			return &replaceError{locked: locked, why: "cannot tell which processes hold the lock: " + herr.Error(), sent: sent}
		}
		now := time.Now()
		if now.After(deadline) {
			return &replaceError{locked: locked, why: fmt.Sprintf("still locked %v after --replace began", (2*stopTimeout + replaceGrace).Round(time.Millisecond)), sent: sent, holders: hs}
		}
		if len(hs) == 0 && len(asked) == 0 {
			// One look can miss a holder that hands the lock on (a fork,
			// then the parent's exit, between the reads of /proc): say
			// so only once several looks, ~30 ms apart in all, saw none.
			if unseen++; unseen == unseenLooks {
				return &replaceError{locked: locked, why: "the lock is held, but by no process that sole can see (another user's, or in another PID namespace)"}
			}
		} else {
			unseen = 0
		}
		for _, h := range hs {
			k := h.key()
			if t, ok := asked[k]; ok {
				// A sole run exits with its command: it is killed only if
				// it holds the lock alone and still does not go.
				if !killed[k] && now.Sub(t) >= stopTimeout && (!soles[k] || len(hs) == 1) {
					switch err := signalProc(l, h, true); {
					case err == nil:
						note("SIGKILL", h)
					case !errors.Is(err, errGone):
						return &replaceError{locked: locked, why: "cannot kill " + h.String() + ": " + err.Error(), sent: sent, holders: hs}
					}
					killed[k] = true
				}
				continue
			}
			if h.pid == 1 {
				return &replaceError{locked: locked, why: "the lock is held by " + h.String() + ", which sole does not signal", sent: sent, holders: hs}
			}
			switch err := signalProc(l, h, false); {
			case errors.Is(err, errGone):
				continue
			case err != nil:
				return &replaceError{locked: locked, why: "cannot stop " + h.String() + ": " + err.Error(), sent: sent, holders: hs}
			}
			note("SIGTERM", h)
			asked[k] = now
			if forwardsToGroup(h) {
				soles[k] = true
				// A sole run: it forwards SIGTERM to its command's
				// process group, led by a child of its own.
				for _, d := range hs {
					if d.pgid != h.pgid && isChildOf(hs, d.pgid, h.pid) {
						if _, ok := asked[d.key()]; !ok {
							asked[d.key()] = now
						}
					}
				}
			}
		}
		t := time.NewTimer(wait.next())
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// isChildOf reports whether pid is among hs with parent ppid.
func isChildOf(hs []holderProc, pid, ppid int) bool {
	for _, h := range hs {
		if h.pid == pid {
			return h.ppid == ppid
		}
	}
	return false
}

// unseenLooks is how many looks in a row must find no holder of a held
// lock before the replace says that it can see none.
const unseenLooks = 6

// backoff is a polling schedule: it doubles from 1 ms to 50 ms.
type backoff time.Duration

func (b *backoff) next() time.Duration {
	d := min(max(2*time.Duration(*b), time.Millisecond), 50*time.Millisecond)
	*b = backoff(d)
	return d
}

// holderOf returns the holder an error names, if any.
func holderOf(err error) *pidlock.Holder {
	var le *pidlock.LockedError
	if errors.As(err, &le) {
		return le.Holder
	}
	return nil
}
