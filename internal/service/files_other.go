//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package service

// openFileLimit cannot tell the limit of open files here.
func openFileLimit() (int, bool) { return 0, false }
