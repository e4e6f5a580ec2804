package procfs

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"testing"
)

func TestReadFile(t *testing.T) {
	want, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	got, err := ReadFile("/proc/self/status")
	if err != nil || len(got) < len(want)/2 {
		t.Fatalf("ReadFile: %d bytes, %v; os.ReadFile read %d", len(got), err, len(want))
	}
	// Bigger than the first buffer.
	if b, err := ReadFile("/proc/self/maps"); err != nil || len(b) <= 512 {
		t.Errorf("maps: %d bytes, %v", len(b), err)
	}
	var pe *fs.PathError
	if _, err := ReadFile("/proc/self/no-such-file"); !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || pe.Op != "open" {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadDirNames(t *testing.T) {
	names, err := ReadDirNames("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, strconv.Itoa(os.Getpid())) || slices.Contains(names, ".") || slices.Contains(names, "..") {
		t.Errorf("/proc lists %d names, ours among them: %v", len(names), slices.Contains(names, strconv.Itoa(os.Getpid())))
	}
	if _, err := ReadDirNames("/proc/self/status"); err == nil {
		t.Error("a file listed as a directory")
	}
}
