// Package bench measures minipay end to end through the local emulator,
// side by side with the floor: a bare TransactWriteItems of the same items
// on the same DynamoDB Local. Run: make bench. Figures are ratios measured
// in one run; absolute times depend on the machine.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"minipay/shared/api"
	"minipay/shared/app"
	"minipay/shared/emulator"
	"minipay/shared/money"
	"minipay/shared/routes"
	"minipay/shared/store"
	"minipay/shared/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

type stack struct {
	env      *storetest.Env
	counting *storetest.Counting
	emu      *emulator.Emulator
	server   *httptest.Server
}

func newStack(b *testing.B) *stack {
	counting := &storetest.Counting{}
	env := storetest.New(b, func(db store.API) store.API { counting.API = db; return counting })
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	d := api.Deps{Store: env.Store, Clock: env.Clock, Log: log}
	emu, err := emulator.New(emulator.Config{Handlers: app.Handlers(d), Routes: routes.Routes, Clock: env.Clock, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	s := &stack{env: env, counting: counting, emu: emu, server: httptest.NewServer(emu)}
	b.Cleanup(s.server.Close)
	return s
}

func (s *stack) post(b *testing.B, path, token, idemKey, body string) map[string]any {
	req, _ := http.NewRequest("POST", s.server.URL+path, strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	if token != "" {
		req.Header.Set("authorization", "Bearer "+token)
	}
	if idemKey != "" {
		req.Header.Set("idempotency-key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode >= 300 {
		b.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return out
}

// BenchmarkCharge compares one charge of 1 won through the emulator (HTTP,
// cached authorizer, handler through the Lambda JSON path, idempotency)
// with a bare TransactWriteItems of the same six items.
func BenchmarkCharge(b *testing.B) {
	s := newStack(b)
	reg := s.post(b, "/users", "", "", `{"name":"Bench"}`)
	token := reg["token"].(string)
	userID := reg["user"].(map[string]any)["id"].(string)
	mainID := reg["mainAccount"].(map[string]any)["id"].(string)
	if b.N > int(money.DailyChargeLimit) {
		b.Skip("more charges than the daily limit allows")
	}

	b.Run("emulator", func(b *testing.B) {
		s.post(b, "/accounts/"+mainID+"/charges", token, "warm", `{"amount":1}`) // fills the authorizer cache
		s.counting.Counts()
		for i := 0; i < b.N; i++ {
			s.post(b, "/accounts/"+mainID+"/charges", token, fmt.Sprint("e", seq.Add(1)), `{"amount":1}`)
		}
		c := s.counting.Counts()
		b.ReportMetric(float64(total(c))/float64(b.N), "ddb-requests/op")
		b.ReportMetric(float64(c["TransactWriteItems"])/float64(b.N), "transacts/op")
	})

	b.Run("bare-transact", func(b *testing.B) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			now := s.env.Clock.Now()
			tx := &store.Tx{}
			tx.Move(store.Movement{ID: store.NewMovementID(now), Type: "charge", Amount: 1, At: now,
				From: store.ExternalAccount(userID), To: store.MainAccount(userID), ToKind: store.KindMain})
			tx.ChargeLimit(userID, now, 1, money.DailyChargeLimit)
			tx.Idempotency(store.IdemKey{Scope: userID, Key: fmt.Sprint("b", seq.Add(1)), RequestHash: "h"}, store.StoredResponse{Status: 201, Body: []byte(`{}`)}, now)
			if _, err := storetest.Client().TransactWriteItems(ctx, s.env.Store.Input(tx)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// seq makes idempotency keys unique across benchmark rounds.
var seq atomic.Int64

func total(c map[string]int) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}
