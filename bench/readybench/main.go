//go:build linux

// Command readybench measures the runtime's cost against its anchor: the
// time from process start to READY=1, and the resident memory once ready,
// of cmd/hellod (built on package runtime) and of bench/bareready (a bare
// Go program doing the same serving work and sending READY=1 itself).
//
//	go run ./bench/readybench [-runs N]
//
// Targets: hellod within 1.2x of the anchor and under 5 ms more to READY;
// under 2 MiB more resident memory.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	runs := flag.Int("runs", 50, "starts of each program")
	flag.Parse()
	dir, err := os.MkdirTemp("", "readybench")
	check(err)
	defer os.RemoveAll(dir)
	bins := map[string]string{}
	for _, pkg := range []string{"cmd/hellod", "bench/bareready"} {
		out := filepath.Join(dir, filepath.Base(pkg))
		b, err := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/solehq/sole/"+pkg).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
		bins[filepath.Base(pkg)] = out
	}
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	check(err)
	defer conn.Close()
	lockDir := filepath.Join(dir, "run")
	check(os.Mkdir(lockDir, 0o700))

	times := map[string][]time.Duration{}
	rss := map[string][]int{}
	// Alternate the two programs so that the machine's drift hits both.
	for i := 0; i < *runs+2; i++ {
		for _, name := range []string{"bareready", "hellod"} {
			d, kb := startToReady(bins[name], sock, lockDir, conn)
			if i < 2 {
				continue // warm-up
			}
			times[name] = append(times[name], d)
			rss[name] = append(rss[name], kb)
		}
	}
	tb, th := median(times["bareready"]), median(times["hellod"])
	rb, rh := medianInt(rss["bareready"]), medianInt(rss["hellod"])
	fmt.Printf("start to READY=1: bareready %v, hellod %v (median of %d)\n", tb.Round(time.Microsecond), th.Round(time.Microsecond), *runs)
	fmt.Printf("ratio hellod/bareready: %.3f (target < 1.2); extra %v (target < 5ms)\n", float64(th)/float64(tb), (th - tb).Round(time.Microsecond))
	fmt.Printf("RSS once ready: bareready %d KiB, hellod %d KiB; extra %d KiB (target < 2048)\n", rb, rh, rh-rb)
}

// startToReady starts bin, waits for its READY=1, reads its resident
// memory a moment later, and stops it.
func startToReady(bin, sock, lockDir string, conn *net.UnixConn) (time.Duration, int) {
	port := freePort()
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "HELLOD_ADDR=127.0.0.1:"+strconv.Itoa(port), "XDG_RUNTIME_DIR="+lockDir)
	start := time.Now()
	check(cmd.Start())
	buf := make([]byte, 4096)
	var d time.Duration
	for {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := conn.ReadFromUnix(buf)
		check(err)
		if strings.HasPrefix(string(buf[:n]), "READY=1") {
			d = time.Since(start)
			break
		}
	}
	time.Sleep(100 * time.Millisecond)
	kb := vmRSS(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	// Drain what the stop sent.
	for {
		conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := conn.ReadFromUnix(buf); err != nil {
			break
		}
	}
	return d, kb
}

func vmRSS(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	check(err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	return 0
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func medianInt(xs []int) int {
	sort.Ints(xs)
	return xs[len(xs)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "readybench:", err)
		os.Exit(1)
	}
}
