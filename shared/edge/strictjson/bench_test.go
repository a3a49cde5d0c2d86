package strictjson

import (
	"testing"
)

type benchTransfer struct {
	To     string      `json:"to"`
	Amount AmountField `json:"amount"`
	Memo   string      `json:"memo,omitempty"`
}

// A typical transfer body, 100 bytes.
var benchBody = []byte(`{"to":"u_0123456789abcdef","amount":15000,"memo":"점심 값 (lunch split with Minji) 🍜 #42"}`)

func BenchmarkDecode(b *testing.B) {
	if len(benchBody) < 95 || len(benchBody) > 105 {
		b.Fatalf("body is %d bytes", len(benchBody))
	}
	b.Run("strictjson", func(b *testing.B) {
		b.SetBytes(int64(len(benchBody)))
		b.ReportAllocs()
		for b.Loop() {
			var v benchTransfer
			if err := Decode(benchBody, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(benchBody)))
		b.ReportAllocs()
		for b.Loop() {
			var v benchTransfer
			if err := stdDecodeOne(benchBody, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
