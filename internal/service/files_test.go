//go:build linux || darwin || freebsd || netbsd || openbsd

package service

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestFeedStreamsLeaveFilesForTheRest(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{
		{256, 128},
		{200, 100},
		{1024, 768},
		{65536, 49152},
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			if got := feedStreamsFor(tc.limit); got != tc.want {
				t.Errorf("feedStreamsFor(%d) = %d, want %d", tc.limit, got, tc.want)
			}
		})
	}
}

// A process allowed 256 open files used to take up to 20,000 feed
// streams: the 237th took its last file, and from then on the server
// accepted nothing, /readyz and the API included.
func TestFeedStreamsCappedByTheOpenFileLimit(t *testing.T) {
	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &was); err != nil {
		t.Skipf("no open-file limit here: %v", err)
	}
	low := was
	low.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower the open-file limit: %v", err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &was)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct{ asked, want int }{
		{0, 128},
		{20000, 128},
		{50, 50},
	} {
		if got := feedStreams(tc.asked, log); got != tc.want {
			t.Errorf("feedStreams(%d) with 256 files = %d, want %d", tc.asked, got, tc.want)
		}
	}
}

// outOfFilesListener fails its first accepts as a process out of files
// does.
type outOfFilesListener struct {
	net.Listener
	fails int
}

func (l *outOfFilesListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// net/http logged every accept that failed for want of files, once a
// second for as long as it lasted; the listener waits them out itself.
func TestFilesListenerWaitsOutRunningOutOfFiles(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logged bytes.Buffer // written by Accept, on this goroutine
	fl := &filesListener{Listener: &outOfFilesListener{Listener: ln, fails: 5}, log: slog.New(slog.NewTextHandler(&logged, nil))}
	go func() {
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := fl.Accept()
	if err != nil {
		t.Fatalf("Accept = %v, want the connection once files are back", err)
	}
	c.Close()
	if n := bytes.Count(logged.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("logged %d lines for 5 failed accepts, want 1", n)
	}
	if !errors.Is(&net.OpError{Err: syscall.ENFILE}, syscall.ENFILE) || !outOfFiles(&net.OpError{Err: syscall.ENFILE}) {
		t.Error("ENFILE is running out of files too")
	}
}
