package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"minipay/localstack/dynamolocal"
	"minipay/shared/kernel/clock"
)

// stackProc is `localstack run` as a process of its own.
type stackProc struct {
	cmd      *exec.Cmd
	api, ddb string
	log      *bytes.Buffer
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startStack(t *testing.T, bin, data string, apiPort, ddbPort int) *stackProc {
	t.Helper()
	s := &stackProc{api: fmt.Sprintf("http://127.0.0.1:%d", apiPort), ddb: fmt.Sprintf("http://127.0.0.1:%d", ddbPort), log: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, "run", "-addr", fmt.Sprintf("127.0.0.1:%d", apiPort), "-dynamodb-port", fmt.Sprint(ddbPort), "-data", data)
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Dir = root
	s.cmd.Env = append(os.Environ(), "MINIPAY_REGISTRATION=open", "MINIPAY_LOG_LEVEL=warn")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	c := http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := c.Get(s.api + "/_local/clock"); err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) || s.cmd.ProcessState != nil {
			t.Fatalf("the stack did not come up:\n%s", s.log)
		}
	}
}

// stop ends the stack the ordinary way (SIGTERM) and waits.
func (s *stackProc) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// kill9 kills the stack's own process with SIGKILL (nothing of it runs
// after that) and waits until its DynamoDB Local has let go of the port.
func (s *stackProc) kill9(t *testing.T, ddbPort int) {
	t.Helper()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ddbPort)); err == nil {
			l.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("DynamoDB Local still listens on %d a minute after the stack was killed", ddbPort)
		}
	}
}

func (s *stackProc) call(t *testing.T, method, path, token, key string, body any, out any) int {
	t.Helper()
	var r *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.api+path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// The local stack across kill -9 of its own process: a charge answered
// 201 just before the kill is there after the restart (and its key
// replays it); the test clock advanced before the kill is still advanced;
// invoke runs the savings job for the stack's day, asking the running
// stack or, with none, reading the clock kept with the data.
func TestLocalStackSurvivesKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack three times")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "localstack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	apiPort, ddbPort := freePort(t), freePort(t)
	s := startStack(t, bin, data, apiPort, ddbPort)

	var adv struct {
		Now time.Time `json:"now"`
	}
	if code := s.call(t, "POST", "/_local/clock/advance", "", "", map[string]string{"duration": "48h"}, &adv); code != 200 {
		t.Fatalf("advance: %d", code)
	}
	var reg struct {
		Token       string `json:"token"`
		MainAccount struct {
			ID string `json:"id"`
		} `json:"mainAccount"`
	}
	if code := s.call(t, "POST", "/users", "", "", map[string]string{"name": "Kim"}, &reg); code != 201 {
		t.Fatalf("register: %d\n%s", code, s.log)
	}
	var first map[string]any
	chargePath := "/accounts/" + reg.MainAccount.ID + "/charges"
	if code := s.call(t, "POST", chargePath, reg.Token, "k1", map[string]any{"amount": 50000}, &first); code != 201 {
		t.Fatalf("charge: %d %v", code, first)
	}
	s.kill9(t, ddbPort) // at once: the 201 is the last thing the stack did

	s = startStack(t, bin, data, apiPort, ddbPort)
	var page struct {
		Accounts []struct {
			ID      string `json:"id"`
			Balance int64  `json:"balance"`
		} `json:"accounts"`
	}
	if code := s.call(t, "GET", "/accounts", reg.Token, "", nil, &page); code != 200 {
		t.Fatalf("accounts after the restart: %d (the registration was lost?)", code)
	}
	found := false
	for _, a := range page.Accounts {
		if a.ID == reg.MainAccount.ID {
			found = a.Balance == 50000
		}
	}
	if !found {
		t.Errorf("the charge answered 201 before kill -9 is gone after the restart: %+v", page)
	}
	var again map[string]any
	if code := s.call(t, "POST", chargePath, reg.Token, "k1", map[string]any{"amount": 50000}, &again); code != 201 || fmt.Sprint(again["id"]) != fmt.Sprint(first["id"]) {
		t.Errorf("the same key after the restart: %d %v, want a replay of %v", code, again, first)
	}

	var now struct {
		Now    time.Time `json:"now"`
		Offset string    `json:"offset"`
	}
	if code := s.call(t, "GET", "/_local/clock", "", "", nil, &now); code != 200 {
		t.Fatalf("clock: %d", code)
	}
	// (An advance ends at its start + 48h; the wall clock ran meanwhile, so
	// the offset is 48h less the advance's own duration.)
	if off, err := time.ParseDuration(now.Offset); err != nil || off < 47*time.Hour || now.Now.Before(adv.Now) {
		t.Errorf("the test clock after kill -9 and a restart: now %s, offset %q; want at least %s, offset about 48h", now.Now, now.Offset, adv.Now)
	}
	wantDate := clock.KSTDate(now.Now)

	// invoke asks the running stack for its clock...
	invoke := func(api string) (string, string) {
		cmd := exec.Command(bin, "invoke", "-function", "savings-interest", "-event", "events/savings-interest.json",
			"-endpoint", s.ddb, "-api", api, "-data", data)
		cmd.Dir = s.cmd.Dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("invoke: %v\n%s\n%s", err, out, stderr.String())
		}
		var res struct {
			Date string `json:"date"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("invoke printed %s: %v", out, err)
		}
		return res.Date, stderr.String()
	}
	if date, log := invoke(s.api); date != wantDate {
		t.Errorf("invoke savings-interest ran for %s, want the stack's day %s\n%s", date, wantDate, log)
	}
	// ... and with no stack answering, reads the clock kept with the data.
	if date, log := invoke(fmt.Sprintf("http://127.0.0.1:%d", freePort(t))); date != wantDate || !strings.Contains(log, "kept in") {
		t.Errorf("invoke without a stack ran for %s, want %s from the kept clock\n%s", date, wantDate, log)
	}
	s.stop(t)
}
