package httpapi

import (
	"errors"
	"strings"
	"testing"

	"minipay/shared/kernel/domainerr"
)

// A request's self-checking members are checked by Decode, in order, each
// under its JSON name, with the messages the handlers used to write.
func TestDecodeChecksTheFields(t *testing.T) {
	type body struct {
		Amount Won       `json:"amount" openapi:"required"`
		Memo   Memo      `json:"memo,omitempty"`
		Name   NameField `json:"name"`
	}
	long := strings.Repeat("a", MaxMemo+1)
	tests := []struct {
		name, json, field, msg string
	}{
		{"a missing amount", `{}`, "amount", "amount is required"},
		{"a fraction", `{"amount":10.5}`, "amount", "amount must be"},
		{"zero", `{"amount":0}`, "amount", "amount must be"},
		{"the amount before the memo", `{"amount":0,"memo":"` + long + `"}`, "amount", "amount must be"},
		{"a long memo", `{"amount":1,"memo":"` + long + `"}`, "memo", "memo must be at most 200 characters"},
		{"a control character", `{"amount":1,"memo":"a\u0007b"}`, "memo", "memo must not contain control characters"},
		{"a bidi override in a name", `{"amount":1,"name":"Kim \u202eLee"}`, "name", "name:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in body
			err := (&Request{Body: []byte(tc.json)}).Decode(&in)
			var fe *domainerr.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want field %s: %q", err, tc.field, tc.msg)
			}
		})
	}
	var in body
	if err := (&Request{Body: []byte(`{"amount":1200,"memo":"  lunch  ","name":" Kim "}`)}).Decode(&in); err != nil {
		t.Fatal(err)
	}
	if in.Amount.Int64() != 1200 || in.Memo != "lunch" || in.Name != "Kim" {
		t.Fatalf("%+v: want the amount and the trimmed texts", in)
	}
	if err := (&Request{Body: []byte(`{"amount":"1"}`)}).Decode(&in); err == nil || !strings.Contains(err.Error(), "JSON number") {
		t.Fatalf("a string amount: %v", err)
	}
}
