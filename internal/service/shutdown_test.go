package service_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdownDrainsAPostInFlight stops the process while a POST
// /v1/events is still sending its body: the post is answered, not cut,
// and what it was told appended is in the read model after a restart;
// a connection opened after the stop began is refused.
func TestShutdownDrainsAPostInFlight(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, false)
	waitReady(t, r)
	addr := strings.TrimPrefix(r.HTTPURL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	body := `{"id":"drained","type":"statement","occurred_at":"2025-11-24","title":"In flight at the stop","sources":[{"outlet":"AP"}]}` + "\n"
	// The server says 100 Continue once the handler reads the body: the
	// request is in flight when the stop comes.
	fmt.Fprintf(c, "POST /v1/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("before the body: %v %v, want 100 Continue", resp, err)
	}
	fmt.Fprint(c, body[:20])
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	for i := 0; ; i++ {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		nc.Close()
		if i == 100 {
			t.Fatal("the listener still accepts 5 s after the stop began")
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprint(c, body[20:])
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the post in flight at the stop got no answer: %v", err)
	}
	var ans struct {
		Appended int `json:"appended"`
	}
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 200 || ans.Appended != 1 {
		t.Fatalf("the post in flight at the stop: %d, %d appended; want 200 and 1", resp.StatusCode, ans.Appended)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stop did not end within 30 s")
	}

	r2 := start(t, dir, false)
	waitReady(t, r2)
	var ev struct {
		ID string `json:"id"`
	}
	if code := getJSON(t, r2.HTTPURL+"/v1/events/drained", &ev); code != 200 || ev.ID != "drained" {
		t.Errorf("after a restart, the event told appended at the stop: %d %+v", code, ev)
	}
}
