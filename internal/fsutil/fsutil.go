// Package fsutil holds the file operations that production code and the
// tests share.
package fsutil

import (
	"io"
	"os"
)

// CopyFile copies the file src to dst, a new file with mode perm (before
// the umask). It never overwrites: an existing dst is an error
// (fs.ErrExist), and a dst it could not write whole is closed and
// reported, not left looking complete.
func CopyFile(dst, src string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
