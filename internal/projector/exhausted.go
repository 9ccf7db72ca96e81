package projector

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
)

// Exhausted reports whether err is a write the file system refused for
// want of room or permission: a full disk or quota, a folder made read
// only, a file's permissions taken away. Each is mended by an operator
// without a restart, and leaves a bbolt file as its last commit left it
// (bbolt rolls back a commit whose write fails), so it is waited out
// rather than ended on. Other I/O errors may mean damage, and are not.
func Exhausted(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
		return true
	}
	// bbolt formats some errors of growing the file with %s, which
	// loses the errno; the text stays.
	msg := err.Error()
	return strings.Contains(msg, "no space left on device") || strings.Contains(msg, "disk quota exceeded")
}
