package dynamolocal

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// The local stack watches DynamoDB Local: when it dies (here: kill -9),
// Exited says so, and the stack stops loudly instead of answering 500s.
func TestExitedReportsADeath(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	exited := s.Exited()
	select {
	case err := <-exited:
		t.Fatalf("exited while running: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Fatal("a killed DynamoDB Local reported a clean exit")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit reported 30 s after kill -9")
	}
}
