package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// requestTypes are the bodies the server decodes.
func requestTypes() []any {
	return []any{
		&store.CreateAccountRequest{}, &store.FundRequest{}, &store.CreateKeyRequest{},
		&orders.RegisterRequest{}, &orders.ConfirmRequest{}, &orders.TagStateRequest{},
		&orders.PaymentRequest{}, &orders.OrderRequest{}, &orders.PayRequest{},
		&orders.RefundRequest{}, &orders.CancelRequest{},
		&cards.LoginRequest{}, &cards.LogoutRequest{}, &cards.AddCardRequest{},
		&cards.ActivateRequest{}, &cards.DeactivateRequest{}, &cards.MigrateRequest{},
		&cards.TokenStatusRequest{}, &struct{}{},
	}
}

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name, body  string
		code, param string
		want        cards.ActivateRequest
	}{
		{"empty body is an empty request", "", "", "", cards.ActivateRequest{}},
		{"whitespace is an empty request", " \n\t", "", "", cards.ActivateRequest{}},
		{"fields", `{"card":"card_x","functions":["nfc","qr"]}`, "", "", cards.ActivateRequest{Card: "card_x", Functions: []cards.Function{"nfc", "qr"}}},
		{"unknown field", `{"card":"c","owner":"me"}`, "unknown_field", "owner", cards.ActivateRequest{}},
		{"wrong type", `{"card":1}`, "invalid_type", "card", cards.ActivateRequest{}},
		{"wrong element type", `{"functions":[1]}`, "invalid_type", "functions", cards.ActivateRequest{}},
		{"null is not an object", `null`, "malformed_json", "", cards.ActivateRequest{}},
		{"array", `[]`, "malformed_json", "", cards.ActivateRequest{}},
		{"truncated", `{"card":"c"`, "malformed_json", "", cards.ActivateRequest{}},
		{"syntax", `{"card":c}`, "malformed_json", "", cards.ActivateRequest{}},
		{"trailing object", `{}{}`, "malformed_json", "", cards.ActivateRequest{}},
		{"trailing garbage", `{} x`, "malformed_json", "", cards.ActivateRequest{}},
		{"invalid UTF-8", "{\"card\":\"\xc3\x28\"}", "malformed_json", "", cards.ActivateRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got cards.ActivateRequest
			err := decodeBody([]byte(tt.body), &got)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("decoded %+v, want %+v", got, tt.want)
				}
				return
			}
			if store.KindOf(err) != store.KindInvalid || store.CodeOf(err) != tt.code {
				t.Fatalf("error %v (code %q), want invalid %q", err, store.CodeOf(err), tt.code)
			}
			var se *store.Error
			if !errors.As(err, &se) || se.Param != tt.param {
				t.Fatalf("error %v does not name param %q", err, tt.param)
			}
		})
	}
}

// FuzzDecodeRequest feeds arbitrary bodies to the decoder of every request type: it
// never panics, refuses with an invalid-request error, and what it accepts survives a
// round trip through JSON unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"name":"Ada","kind":"person","currency":"EUR"}`,
		`{"account":"acct_01","amount":"12.50 EUR"}`,
		`{"uid":"04515CFA6F7381","content":"https://tagpay.example/t/abc?s=00"}`,
		`{"card":"card_x","functions":["nfc","qr","online","inapp"]}`,
		`{"token":"9999991234567890","action":"suspend","reason":"lost"}`,
		`{"role":"merchant","account":"acct_x"}`, `{"amount":1e400}`, `{"a":{"b":[[[[]]]]}}`,
		`{"name":"\u0000"}`, "{\"name\":\"\xff\"}", `{"name":"a"}{}`, `[1]`, `"x"`, `{"functions":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, proto := range requestTypes() {
			v := reflect.New(reflect.TypeOf(proto).Elem()).Interface()
			err := decodeBody(body, v)
			if err != nil {
				if store.KindOf(err) != store.KindInvalid || store.CodeOf(err) == "" {
					t.Fatalf("decoding %q into %T: %v is not an invalid-request error", body, v, err)
				}
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encoding %T: %v", v, err)
			}
			w := reflect.New(reflect.TypeOf(proto).Elem()).Interface()
			if err := decodeBody(again, w); err != nil {
				t.Fatalf("decoding %s (re-encoded from %q) into %T: %v", again, body, w, err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("round trip of %q into %T changed it: %+v then %+v", body, v, v, w)
			}
		}
	})
}
