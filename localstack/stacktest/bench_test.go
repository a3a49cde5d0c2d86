package stacktest_test

import (
	"fmt"
	"testing"

	"minipay/localstack/stacktest"
	"minipay/shared/kernel/config"
)

// BenchmarkTransferThroughTheEmulator is one POST /transfers end to end
// (HTTP -> emulator -> cached authorizer -> handler -> DynamoDB Local), for
// CPU profiles of our side: go test -run '^$' -bench Transfer -cpuprofile cpu.out ./localstack/stacktest/
func BenchmarkTransferThroughTheEmulator(b *testing.B) {
	s := stacktest.New(b, config.Config{})
	kim, lee := s.Register(b, "Kim"), s.Register(b, "Lee")
	s.Fund(b, kim, 1_000_000_000)
	body := fmt.Sprintf(`{"to":%q,"amount":1,"memo":"bench"}`, lee.ID)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := s.Post(b, "/transfers", kim.Token, body); r.Status != 201 {
			b.Fatal(r.Raw)
		}
	}
}
