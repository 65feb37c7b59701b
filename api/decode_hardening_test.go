package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

func TestDecodeBodyNamesFieldsExactlyOnce(t *testing.T) {
	tests := []struct {
		name, body  string
		into        any
		code, param string
	}{
		{"exact names", `{"account":"acct_x","amount":"1.00"}`, &store.FundRequest{}, "", ""},
		{"another case", `{"Amount":"1.00"}`, &store.FundRequest{}, "unknown_field", "Amount"},
		{"upper case", `{"AMOUNT":"1.00"}`, &store.FundRequest{}, "unknown_field", "AMOUNT"},
		{"repeated", `{"amount":"1.00","amount":"1000.00"}`, &store.FundRequest{}, "duplicate_field", "amount"},
		{"repeated in two cases", `{"amount":"1.00","Amount":"1000.00"}`, &store.FundRequest{}, "unknown_field", "Amount"},
		{"repeated null", `{"functions":null,"functions":["nfc"]}`, &cards.ActivateRequest{}, "duplicate_field", "functions"},
		{"snake case is the name", `{"base_url":"https://x.example","meta_key":""}`, &orders.RegisterRequest{}, "", ""},
		{"camel case is not", `{"baseUrl":"https://x.example"}`, &orders.RegisterRequest{}, "unknown_field", "baseUrl"},
		{"the Go name is not", `{"BaseURL":"https://x.example"}`, &orders.RegisterRequest{}, "unknown_field", "BaseURL"},
		{"hidden field", `{"IdempotencyKey":"k"}`, &orders.RegisterRequest{}, "unknown_field", "IdempotencyKey"},
		{"empty object for none", `{}`, &struct{}{}, "", ""},
		{"nothing for none", `{"x":1}`, &struct{}{}, "unknown_field", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeBody([]byte(tt.body), tt.into)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *store.Error
			if !errors.As(err, &se) || se.Kind != store.KindInvalid || se.Code != tt.code || se.Param != tt.param {
				t.Fatalf("error %v, want invalid %s naming %q", err, tt.code, tt.param)
			}
		})
	}
}

// TestDuplicateFieldOverHTTP: the refusal reaches the client in the error shape, and
// the ledger is untouched.
func TestDuplicateFieldOverHTTP(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	before := f.snapshot()
	for body, code := range map[string]string{
		`{"amount":"1.00","amount":"99.00"}`: "duplicate_field",
		`{"Amount":"1.00"}`:                  "unknown_field",
	} {
		r := f.do("POST", "/v1/accounts/"+w.payer1.ID+"/fund", f.admin, body)
		if d := r.errorDetail(t); r.status != 400 || d.Code != code || !strings.EqualFold(d.Param, "amount") {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
	if f.snapshot() != before {
		t.Fatal("a refused body changed the ledger")
	}
}

func TestQueryFiltersAreChecked(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	tests := []struct {
		path  string
		param string // "" when the request is fine
	}{
		{"/v1/orders?status=paid", ""},
		{"/v1/orders?status=", ""},
		{"/v1/orders?status=bogus", "status"},
		{"/v1/orders?status=PAID", "status"},
		{"/v1/orders?payer=" + w.payer1.ID, ""},
		{"/v1/orders?payer=Ada", "payer"},
		{"/v1/orders?payee=" + w.payer1.ID + "x", "payee"},
		{"/v1/orders?payee=" + w.card1.ID, "payee"},
		{"/v1/tags?merchant=" + w.merchant1.ID, ""},
		{"/v1/tags?merchant=cafe", "merchant"},
		// These lists load the account or card they filter on, so a name of nothing is
		// not found, as locally.
		{"/v1/logins?account=nobody", "account!"},
		{"/v1/cards?account=%00", "account!"},
		{"/v1/tokens?card=" + w.card1.ID, ""},
		{"/v1/tokens?card=" + w.payer1.ID, "card!"},
		{"/v1/journal?limit=x", "limit"},
		{"/v1/orders?status=paid&status=paid", "status"},
		{"/v1/orders?colour=red", "colour"},
	}
	for _, tt := range tests {
		r := f.do("GET", tt.path, f.admin, "")
		if tt.param == "" {
			if r.status != 200 {
				t.Errorf("%s: %d %s", tt.path, r.status, r.body)
			}
			continue
		}
		if param, ok := strings.CutSuffix(tt.param, "!"); ok {
			if d := r.errorDetail(t); r.status != 404 || d.Param != param {
				t.Errorf("%s: %d %s, want 404 naming %s", tt.path, r.status, r.body, param)
			}
			continue
		}
		if d := r.errorDetail(t); r.status != 400 || d.Type != "invalid" || d.Param != tt.param {
			t.Errorf("%s: %d %s, want 400 naming %s", tt.path, r.status, r.body, tt.param)
		}
	}
}

// topLevelNames lists the names of a JSON object in order, repeats included, without
// the decoder under test.
func topLevelNames(body []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		names = append(names, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	return names, true
}

// tagNames are the JSON names a request type declares.
func tagNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// FuzzDecodeRequestNames: whatever the decoder accepts names each field of the request
// type exactly, once; and an accepted body with one name's case changed is refused.
func FuzzDecodeRequestNames(f *testing.F) {
	for _, seed := range []string{
		`{"amount":"1.00"}`, `{"Amount":"1.00"}`, `{"amount":"1","amount":"2"}`,
		`{"account":"acct_x","amount":"1.00","account":"y"}`, `{"uid":"04","content":"x","UID":"05"}`,
		`{"functions":["nfc"],"card":"c"}`, `{"role":"admin","ROLE":"payer"}`, `{"ﬀ":1}`, `{"k\u0065y":1}`,
		`{"na\u006de":"a","name":"b"}`, `{"base_url":"u","base_URL":"v"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, proto := range requestTypes() {
			typ := reflect.TypeOf(proto).Elem()
			v := reflect.New(typ).Interface()
			err := decodeBody(body, v)
			if err != nil {
				if store.KindOf(err) != store.KindInvalid {
					t.Fatalf("%q into %T: %v is not an invalid-request error", body, v, err)
				}
				continue
			}
			names, ok := topLevelNames(bytes.TrimSpace(body))
			if !ok {
				continue // the empty body
			}
			declared := tagNames(typ)
			seen := map[string]bool{}
			for _, n := range names {
				if !declared[n] {
					t.Fatalf("%q into %T: accepted the undeclared name %q", body, v, n)
				}
				if seen[n] {
					t.Fatalf("%q into %T: accepted %q twice", body, v, n)
				}
				seen[n] = true
			}
			for _, n := range names {
				changed := strings.ToUpper(n)
				if changed == n {
					continue
				}
				quoted, _ := json.Marshal(n)
				if bytes.Count(body, quoted) != 1 {
					continue // it is also a value, or written twice
				}
				other := bytes.Replace(body, quoted, []byte(`"`+changed+`"`), 1)
				if bytes.Equal(other, body) {
					continue // the name was written with escapes
				}
				if err := decodeBody(other, reflect.New(typ).Interface()); err == nil {
					t.Fatalf("%q into %T: accepted %q in upper case (%q)", body, v, n, other)
				}
			}
		}
	})
}

// FuzzRequestBodyOverHTTP sends arbitrary bodies to POST routes of a real server (as a
// handler, without the network): every answer is JSON, a refusal is a 4xx in the error
// shape, and nothing is ever a 5xx.
func FuzzRequestBodyOverHTTP(f *testing.F) {
	local, err := backend.OpenLocal(f.TempDir()+"/ledger.db", backend.LocalOptions{Store: store.Options{KeysPath: f.TempDir() + "/keys.json"}})
	if err != nil {
		f.Fatal(err)
	}
	defer local.Close()
	ctx := store.WithActor(context.Background(), store.LocalActor)
	admin, err := local.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleAdmin})
	if err != nil {
		f.Fatal(err)
	}
	acct, err := local.CreateAccount(ctx, store.CreateAccountRequest{Name: "Ada", Kind: store.AccountPerson, Currency: "EUR"})
	if err != nil {
		f.Fatal(err)
	}
	merchant, err := local.CreateAccount(ctx, store.CreateAccountRequest{Name: "Cafe", Kind: store.AccountMerchant, Currency: "EUR"})
	if err != nil {
		f.Fatal(err)
	}
	s := NewServer(local, ServerOptions{Limits: Limits{AuthFailureRate: -1}})
	paths := []string{"/v1/accounts", "/v1/accounts/" + acct.ID + "/fund", "/v1/tags", "/v1/orders", "/v1/keys", "/v1/cards", "/v1/migrations"}
	for _, seed := range []string{
		`{"name":"Eve","kind":"person","currency":"EUR"}`, `{"amount":"1.00"}`, `{"amount":"1.00","amount":"2"}`,
		`{"Amount":"1.00"}`, `{"uid":"04A1B2C3D4E5F6","merchant":"` + merchant.ID + `"}`, `{"role":"admin"}`,
		`{"reply":"x","payer":"` + acct.ID + `"}`, `{"a":{"b":[1,{"c":null}]}}`, "{\"name\":\"\xff\"}", `{}`, ``, `[`,
	} {
		for i := range paths {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := paths[int(route)%len(paths)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.Secret)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s %q: the answer is not JSON: %q", path, body, rec.Body)
		}
		if rec.Code >= 400 {
			var eb errorBody
			if err := decodeBody(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Type == "" || eb.Error.Message == "" {
				t.Fatalf("POST %s %q: %d %q is not an error body", path, body, rec.Code, rec.Body)
			}
		}
	})
}
