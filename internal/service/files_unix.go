//go:build linux || darwin || freebsd || netbsd || openbsd

package service

import "syscall"

// openFileLimit returns the process's limit of open files (its soft
// limit, which Go raises to the hard one at start), and whether it could
// tell.
func openFileLimit() (int, bool) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 0, false
	}
	return int(l.Cur), true
}
