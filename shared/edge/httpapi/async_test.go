package httpapi

import (
	"errors"
	"testing"
	"time"
)

// Async's read runs while the caller makes its own read: neither waits for
// the other, and wait hands over read's results and error.
func TestAsyncReadsAtOnce(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var got string
	wait := Async(func() error {
		close(started)
		<-release // ends only once the caller's own read has run
		got = "page"
		return errors.New("read failed")
	})
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("Async did not start its read before wait")
	}
	close(release)
	if err := wait(); err == nil || err.Error() != "read failed" {
		t.Fatalf("wait() = %v, want read's error", err)
	}
	if got != "page" {
		t.Fatalf("read's result after wait: %q", got)
	}
}
