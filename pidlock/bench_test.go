package pidlock

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/solehq/sole/internal/rmtree"
)

func benchLock(b *testing.B) *Lock {
	dir, err := os.MkdirTemp("", "pidlock-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rmtree.RemoveAll(dir) })
	l, err := New(filepath.Join(dir, "x.pid"))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkTryLockUnlock: one uncontended acquire (with the record) and
// release.
func BenchmarkTryLockUnlock(b *testing.B) {
	l := benchLock(b)
	for b.Loop() {
		if err := l.TryLock(); err != nil {
			b.Fatal(err)
		}
		if err := l.Unlock(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTryLockContended: an attempt that finds the lock held and reads
// the holder.
func BenchmarkTryLockContended(b *testing.B) {
	holder := benchLock(b)
	if err := holder.TryLock(); err != nil {
		b.Fatal(err)
	}
	defer holder.Unlock()
	l, _ := New(holder.Path())
	for b.Loop() {
		if err := l.TryLock(); err == nil {
			b.Fatal("TryLock succeeded on a held lock")
		}
	}
}

// BenchmarkQuery: the read-only holder query, on a held lock.
func BenchmarkQuery(b *testing.B) {
	holder := benchLock(b)
	if err := holder.TryLock(); err != nil {
		b.Fatal(err)
	}
	defer holder.Unlock()
	q, _ := New(holder.Path())
	for b.Loop() {
		st, err := q.Query()
		if err != nil || st.State != Running {
			b.Fatalf("Query = %+v, %v", st, err)
		}
	}
}
