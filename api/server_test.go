package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	merchant := f.client(f.key(store.RoleMerchant, w.merchant1.ID))
	payer := f.client(f.key(store.RolePayer, w.payer1.ID))
	ctx := context.Background()

	// Each call is one thing the key's role does not own.
	type attempt struct {
		name string
		call func() error
	}
	ignore := func(_ any, err error) error { return err }
	// A payer may read any merchant's tag; what it may not is pay from another account.
	reply, err := payer.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: w.tag1.UID, Content: w.tag1.Content})
	if err != nil {
		t.Fatal(err)
	}
	merchantAttempts := []attempt{
		{"create an account", func() error {
			return ignore(merchant.CreateAccount(ctx, store.CreateAccountRequest{Name: "x", Kind: store.AccountMerchant, Currency: "EUR"}))
		}},
		{"fund its own account", func() error {
			return ignore(merchant.FundAccount(ctx, store.FundRequest{Account: w.merchant1.ID, Amount: "1.00"}))
		}},
		{"read another merchant's account", func() error { return ignore(merchant.GetAccount(ctx, w.merchant2.ID)) }},
		{"read another merchant's tag", func() error { return ignore(merchant.GetTag(ctx, w.tag2.Ref)) }},
		{"register a tag to another merchant", func() error {
			return ignore(merchant.RegisterTag(ctx, orders.RegisterRequest{UID: "04AABBCCDDEEFF", Merchant: w.merchant2.ID}))
		}},
		{"revoke another merchant's tag", func() error {
			return ignore(merchant.RevokeTag(ctx, orders.TagStateRequest{Tag: w.tag2.ID, Reason: "mine now"}))
		}},
		{"fail another merchant's tag", func() error {
			return ignore(merchant.FailTag(ctx, orders.TagStateRequest{Tag: w.tag2.ID, Reason: "mine now"}))
		}},
		{"read another merchant's order", func() error { return ignore(merchant.GetOrder(ctx, w.paid2.ID)) }},
		{"refund another merchant's order", func() error {
			return ignore(merchant.RefundOrder(ctx, orders.RefundRequest{Order: w.paid2.ID}))
		}},
		{"cancel another merchant's order", func() error {
			return ignore(merchant.CancelOrder(ctx, orders.CancelRequest{Order: w.open2.ID}))
		}},
		{"list cards", func() error { return ignore(merchant.ListCards(ctx, w.payer1.ID, store.Page{})) }},
		{"log a payer in", func() error {
			return ignore(merchant.Login(ctx, cards.LoginRequest{Account: w.payer1.ID, Device: w.dev1}))
		}},
		{"verify the ledger", func() error { return ignore(merchant.Verify(ctx)) }},
		{"create a key", func() error {
			return ignore(merchant.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleMerchant, Account: w.merchant2.ID}))
		}},
		{"list keys", func() error { return ignore(merchant.ListKeys(ctx, store.Page{})) }},
	}
	payerAttempts := []attempt{
		{"read another payer's account", func() error { return ignore(payer.GetAccount(ctx, w.payer2.ID)) }},
		{"order from another payer's account", func() error {
			return ignore(payer.CreateOrder(ctx, orders.OrderRequest{Reply: reply.ID, Payer: w.payer2.ID, Amount: "1.00"}))
		}},
		{"pay another payer's order", func() error { return ignore(payer.PayOrder(ctx, orders.PayRequest{Order: w.open2.ID})) }},
		{"cancel another payer's order", func() error {
			return ignore(payer.CancelOrder(ctx, orders.CancelRequest{Order: w.open2.ID}))
		}},
		{"read another payer's order", func() error { return ignore(payer.GetOrder(ctx, w.paid2.ID)) }},
		{"read another payer's card", func() error { return ignore(payer.GetCard(ctx, w.card2.ID)) }},
		{"list another payer's cards", func() error { return ignore(payer.ListCards(ctx, w.payer2.ID, store.Page{})) }},
		{"activate another payer's card", func() error {
			return ignore(payer.ActivateCard(ctx, cards.ActivateRequest{Card: w.card2.ID, Functions: []cards.Function{cards.FunctionQR}}))
		}},
		{"deactivate another payer's card", func() error {
			return ignore(payer.DeactivateCard(ctx, cards.DeactivateRequest{Card: w.card2.ID, Functions: []cards.Function{cards.FunctionNFC}}))
		}},
		{"add a card to another payer", func() error {
			return ignore(payer.AddCard(ctx, cards.AddCardRequest{Account: w.payer2.ID, Label: "x", PAN: "4111111111111111", Device: w.dev2}))
		}},
		{"suspend another payer's token", func() error {
			return ignore(payer.ChangeToken(ctx, cards.TokenStatusRequest{Token: w.token2.ID, Action: cards.ActionSuspend, Reason: cards.ReasonLost}))
		}},
		{"list another payer's tokens", func() error { return ignore(payer.ListTokens(ctx, w.card2.ID, store.Page{})) }},
		{"log another payer in", func() error {
			return ignore(payer.Login(ctx, cards.LoginRequest{Account: w.payer2.ID, Device: w.dev1}))
		}},
		{"log another payer out", func() error {
			return ignore(payer.Logout(ctx, cards.LogoutRequest{Account: w.payer2.ID, Device: w.dev2}))
		}},
		{"list another payer's devices", func() error { return ignore(payer.ListLogins(ctx, w.payer2.ID)) }},
		{"migrate another payer's card", func() error {
			return ignore(payer.MigrateCard(ctx, cards.MigrateRequest{Account: w.payer2.ID, From: w.dev2, To: w.dev2b}))
		}},
		{"register a tag", func() error {
			return ignore(payer.RegisterTag(ctx, orders.RegisterRequest{UID: "04AABBCCDDEEFF", Merchant: w.merchant1.ID}))
		}},
		{"read the journal of others", func() error {
			j, err := payer.Journal(ctx, store.Page{Limit: 0})
			for _, tr := range j {
				if tr.From != w.payer1.ID && tr.To != w.payer1.ID {
					return fmt.Errorf("journal shows %s, which is not payer1's", tr.ID)
				}
			}
			if err == nil {
				err = store.Errorf(store.KindForbidden, "filtered", "journal is filtered")
			}
			return err
		}},
		{"revoke a key", func() error {
			keys, err := f.local.ListKeys(ctx, store.Page{})
			if err != nil {
				return err
			}
			return ignore(payer.RevokeKey(ctx, keys[0].ID))
		}},
	}

	// Another tenant's tag is not found rather than forbidden: the refusal must not tell
	// that it exists, nor whose it is.
	hidden := map[string]bool{"read another merchant's tag": true, "revoke another merchant's tag": true, "fail another merchant's tag": true}
	for _, group := range []struct {
		role     string
		attempts []attempt
	}{{"merchant", merchantAttempts}, {"payer", payerAttempts}} {
		for _, a := range group.attempts {
			t.Run(group.role+" may not "+a.name, func(t *testing.T) {
				before := f.snapshot()
				err := a.call()
				want := store.KindForbidden
				if hidden[a.name] {
					want = store.KindNotFound
				}
				if !store.IsKind(err, want) {
					t.Fatalf("got %v (kind %s), want %s", err, store.KindOf(err), want)
				}
				if after := f.snapshot(); after != before {
					t.Fatal("the refused request changed the ledger")
				}
			})
		}
	}
	f.verifyClean()
}

func TestRolesReachWhatTheyOwn(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	ctx := context.Background()
	merchant := f.client(f.key(store.RoleMerchant, w.merchant1.ID))
	payer := f.client(f.key(store.RolePayer, w.payer1.ID))

	if tags, err := merchant.ListTags(ctx, orders.TagFilter{}); err != nil || len(tags) != 1 || tags[0].ID != w.tag1.ID {
		t.Fatalf("merchant ListTags = %v, %v; want only its tag", tags, err)
	}
	if os, err := merchant.ListOrders(ctx, orders.OrderFilter{}); err != nil || len(os) != 1 || os[0].ID != w.paid1.ID {
		t.Fatalf("merchant ListOrders = %v, %v; want only the order paid to it", os, err)
	}
	if _, err := merchant.RefundOrder(ctx, orders.RefundRequest{Order: w.paid1.ID, Amount: "1.00"}); err != nil {
		t.Fatalf("merchant refunding its own order: %v", err)
	}
	if cs, err := payer.ListCards(ctx, "", store.Page{}); err != nil || len(cs) != 1 || cs[0].ID != w.card1.ID {
		t.Fatalf("payer ListCards = %v, %v; want only its card", cs, err)
	}
	if accts, err := payer.ListAccounts(ctx, store.Page{}); err != nil || len(accts) != 1 || accts[0].ID != w.payer1.ID {
		t.Fatalf("payer ListAccounts = %v, %v; want only its account", accts, err)
	}
	r, err := payer.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: w.tag1.UID, Content: w.tag1.Content})
	if err != nil {
		t.Fatal(err)
	}
	o, err := payer.CreateOrder(ctx, orders.OrderRequest{Reply: r.ID, Payer: w.payer1.ID, Amount: "2.00"})
	if err != nil {
		t.Fatal(err)
	}
	if o, err = payer.PayOrder(ctx, orders.PayRequest{Order: o.ID}); err != nil || o.Status != orders.OrderPaid {
		t.Fatalf("payer paying its own order = %+v, %v", o, err)
	}
	f.verifyClean()
}

func TestBadCredentialsAre401(t *testing.T) {
	f := newFixture(t)
	revoked := f.key(store.RoleAdmin, "")
	keys, err := f.local.ListKeys(context.Background(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.local.RevokeKey(context.Background(), keys[len(keys)-1].ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, authorization, code string
	}{
		{"no header", "", "missing_api_key"},
		{"another scheme", "Basic YWRtaW46YWRtaW4=", "malformed_api_key"},
		{"bearer without key", "Bearer ", "missing_api_key"},
		{"not a tagpay key", "Bearer hunter2", "malformed_api_key"},
		{"unknown key", "Bearer " + store.SecretPrefix + strings.Repeat("a", len(f.admin)-len(store.SecretPrefix)), "unknown_api_key"},
		{"revoked key", "Bearer " + revoked, "revoked_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot()
			for _, probe := range []struct{ method, path, body string }{
				{"GET", "/v1/accounts", ""},
				{"POST", "/v1/accounts", `{"name":"Mallory","kind":"person","currency":"EUR"}`},
				{"GET", "/v1/keys", ""},
			} {
				r := f.do(probe.method, probe.path, "", probe.body, "Authorization", tt.authorization)
				d := r.errorDetail(t)
				if r.status != http.StatusUnauthorized || d.Code != tt.code || d.Type != "unauthorized" {
					t.Errorf("%s %s: status %d code %q, want 401 %q", probe.method, probe.path, r.status, d.Code, tt.code)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: 401 without WWW-Authenticate", probe.method, probe.path)
				}
			}
			if f.snapshot() != before {
				t.Fatal("an unauthenticated request changed the ledger")
			}
		})
	}
	// The client reports the server's words with the unauthorized kind.
	_, err = f.client(revoked).ListAccounts(context.Background(), store.Page{})
	if store.KindOf(err) != store.KindUnauthorized || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("client with a revoked key: %v", err)
	}
}

func TestIdempotencyReplaysTheStoredResponse(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	path := "/v1/accounts/" + w.payer1.ID + "/fund"
	first := f.do("POST", path, f.admin, `{"amount":"7.00"}`, "Idempotency-Key", "top-up-1")
	if first.status != http.StatusOK || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s replayed=%q", first.status, first.body, first.header.Get("Idempotent-Replayed"))
	}
	second := f.do("POST", path, f.admin, `{"amount":"7.00"}`, "Idempotency-Key", "top-up-1")
	if second.status != http.StatusOK || second.header.Get("Idempotent-Replayed") != "true" || string(second.body) != string(first.body) {
		t.Fatalf("replay: %d %s replayed=%q; want the first body %s marked as a replay", second.status, second.body, second.header.Get("Idempotent-Replayed"), first.body)
	}
	before := f.snapshot()
	other := f.do("POST", path, f.admin, `{"amount":"8.00"}`, "Idempotency-Key", "top-up-1")
	if d := other.errorDetail(t); other.status != http.StatusConflict || d.Code != "idempotency_key_reused" {
		t.Fatalf("same key, other body: %d %q; want 409 idempotency_key_reused", other.status, d.Code)
	}
	if f.snapshot() != before {
		t.Fatal("a refused reuse changed the ledger")
	}
	acct, err := f.local.GetAccount(context.Background(), w.payer1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if acct.Balance != 100_00-5_00+7_00 {
		t.Fatalf("balance %d: the top-up was not applied exactly once", acct.Balance)
	}
	// Keys are per actor: another key's same idempotency key is a new request.
	other2 := f.do("POST", path, f.key(store.RoleAdmin, ""), `{"amount":"7.00"}`, "Idempotency-Key", "top-up-1")
	if other2.status != http.StatusOK || other2.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("another key's same idempotency key: %d replayed=%q", other2.status, other2.header.Get("Idempotent-Replayed"))
	}
}

func TestIdempotencyKeyInUse(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	actor, err := f.local.Authenticate(context.Background(), f.admin)
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/accounts/" + w.payer1.ID + "/fund"
	// A request holding the key is running: the slot is taken.
	if !f.server.claim(actor.ID + "/busy") {
		t.Fatal("slot already claimed")
	}
	before := f.snapshot()
	r := f.do("POST", path, f.admin, `{"amount":"1.00"}`, "Idempotency-Key", "busy")
	if d := r.errorDetail(t); r.status != http.StatusConflict || d.Code != "idempotency_key_in_use" {
		t.Fatalf("while in use: %d %q; want 409 idempotency_key_in_use", r.status, d.Code)
	}
	if f.snapshot() != before {
		t.Fatal("a refused request changed the ledger")
	}
	f.server.release(actor.ID + "/busy")
	if r := f.do("POST", path, f.admin, `{"amount":"1.00"}`, "Idempotency-Key", "busy"); r.status != http.StatusOK {
		t.Fatalf("after the first finished: %d %s", r.status, r.body)
	}
}

func TestIdempotencyUnderConcurrentUse(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	path := "/v1/accounts/" + w.payer1.ID + "/fund"
	const n = 8
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = f.do("POST", path, f.admin, `{"amount":"3.00"}`, "Idempotency-Key", "race")
		})
	}
	wg.Wait()
	var body string
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			if body != "" && string(r.body) != body {
				t.Fatalf("two different successful answers:\n%s\n%s", body, r.body)
			}
			body = string(r.body)
		case http.StatusConflict:
			if d := r.errorDetail(t); d.Code != "idempotency_key_in_use" {
				t.Fatalf("conflict %q, want idempotency_key_in_use", d.Code)
			}
		default:
			t.Fatalf("status %d %s", r.status, r.body)
		}
	}
	acct, err := f.local.GetAccount(context.Background(), w.payer1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if acct.Balance != 100_00-5_00+3_00 {
		t.Fatalf("balance %d: the top-up was not applied exactly once", acct.Balance)
	}
}

func TestHostileInputIsRefusedWithoutChange(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	fund := "/v1/accounts/" + w.payer1.ID + "/fund"
	huge := `{"name":"` + strings.Repeat("A", DefaultMaxBodyBytes) + `","kind":"person","currency":"EUR"}`
	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code, param              string
	}{
		{"oversized body", "POST", "/v1/accounts", huge, nil, 413, "request_too_large", ""},
		{"malformed JSON", "POST", "/v1/accounts", `{"name":`, nil, 400, "malformed_json", ""},
		{"not an object", "POST", "/v1/accounts", `["name"]`, nil, 400, "malformed_json", ""},
		{"two objects", "POST", "/v1/accounts", `{"name":"a"} {"name":"b"}`, nil, 400, "malformed_json", ""},
		{"invalid UTF-8", "POST", "/v1/accounts", "{\"name\":\"\xff\xfe\"}", nil, 400, "malformed_json", ""},
		{"unknown field", "POST", "/v1/accounts", `{"name":"a","kind":"person","currency":"EUR","admin":true}`, nil, 400, "unknown_field", "admin"},
		{"idempotency key in the body", "POST", fund, `{"amount":"1.00","IdempotencyKey":"x"}`, nil, 400, "unknown_field", "IdempotencyKey"},
		{"wrong type", "POST", "/v1/accounts", `{"name":5,"kind":"person","currency":"EUR"}`, nil, 400, "invalid_type", "name"},
		{"amount as a number", "POST", fund, `{"amount":1e308}`, nil, 400, "invalid_type", "amount"},
		{"huge amount", "POST", fund, `{"amount":"99999999999999999999999"}`, nil, 400, "invalid_amount", "amount"},
		{"negative amount", "POST", fund, `{"amount":"-5.00"}`, nil, 400, "invalid_amount", "amount"},
		{"overflowing amount", "POST", fund, `{"amount":"92233720368547758.07"}`, nil, 400, "amount_overflow", "amount"},
		{"body names another account", "POST", fund, `{"account":"` + w.payer2.ID + `","amount":"1.00"}`, nil, 400, "path_mismatch", "account"},
		{"functions of the wrong type", "POST", "/v1/cards/" + w.card1.ID + "/activate", `{"functions":"nfc"}`, nil, 400, "invalid_type", "functions"},
		{"text body", "POST", "/v1/accounts", `name=a`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"long idempotency key", "POST", fund, `{"amount":"1.00"}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "invalid_idempotency_key", "idempotency_key"},
		{"non-ASCII idempotency key", "POST", fund, `{"amount":"1.00"}`, []string{"Idempotency-Key", "schlüssel"}, 400, "invalid_idempotency_key", "idempotency_key"},
		{"traversal in an account id", "GET", "/v1/accounts/..%2F..%2Fetc%2Fpasswd", "", nil, 404, "not_found", ""},
		{"slashes in an account id", "GET", "/v1/accounts/acct_%2Fetc%2Fpasswd", "", nil, 404, "account_not_found", "account"},
		{"dot segments", "GET", "/v1/accounts/../keys", "", nil, 404, "not_found", ""},
		{"encoded dot segments", "POST", "/v1/orders/%2e%2e/pay", `{}`, nil, 404, "not_found", ""},
		{"traversal in a tag name", "GET", "/v1/tags/..%2F..%2Fkeys", "", nil, 404, "not_found", ""},
		{"slashes in a tag name", "GET", "/v1/tags/a%2Fb%5Cc", "", nil, 404, "tag_not_found", "tag"},
		{"control character in a token", "GET", "/v1/tokens/%00abc", "", nil, 404, "token_not_found", "token"},
		{"traversal in an order id", "POST", "/v1/orders/ord_..%2F..%2Fx/refund", `{}`, nil, 404, "not_found", ""},
		{"slashes in an order id", "POST", "/v1/orders/ord_%2Fx/refund", `{}`, nil, 404, "order_not_found", "order"},
		{"traversal in a device id", "POST", "/v1/devices/..%5Cdev/login", `{"account":"` + w.payer1.ID + `"}`, nil, 400, "invalid_device", "device"},
		{"unknown query parameter", "GET", "/v1/orders?all=true", "", nil, 400, "unknown_parameter", "all"},
		{"negative limit", "GET", "/v1/journal?limit=-1", "", nil, 400, "invalid_limit", "limit"},
		{"audit page after a mangled id", "GET", "/v1/audit?after=evt_x", "", nil, 400, "invalid_parameter", "after"},
		{"unknown route", "GET", "/v1/secrets", "", nil, 404, "route_not_found", ""},
		{"wrong method", "DELETE", "/v1/accounts/" + w.payer1.ID, "", nil, 405, "method_not_allowed", ""},
	}
	before := f.snapshot()
	journal, err := f.local.Journal(context.Background(), store.Page{Limit: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(tt.method, tt.path, f.admin, tt.body, tt.headers...)
			d := r.errorDetail(t)
			if r.status != tt.status || d.Code != tt.code || d.Param != tt.param {
				t.Fatalf("got %d code %q param %q (%s), want %d %q param %q", r.status, d.Code, d.Param, d.Message, tt.status, tt.code, tt.param)
			}
		})
	}
	if f.snapshot() != before {
		t.Fatal("hostile input changed the ledger")
	}
	after, err := f.local.Journal(context.Background(), store.Page{Limit: 0})
	if err != nil || len(after) != len(journal) {
		t.Fatalf("journal has %d transfers (%v), had %d", len(after), err, len(journal))
	}
	f.verifyClean()
}

func TestSlowClientsAreCutOff(t *testing.T) {
	f := newFixtureWith(t, func(s *http.Server) {
		s.ReadHeaderTimeout = 200 * time.Millisecond
		s.ReadTimeout = 200 * time.Millisecond
	})
	w := f.buildWorld()
	before := f.snapshot()
	addr := strings.TrimPrefix(f.http.URL, "http://")

	t.Run("headers never finish", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /v1/accounts HTTP/1.1\r\nHost: x\r\n")
		conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // only a guard against a hang
		_, err = bufio.NewReader(conn).ReadString('\n')
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept a connection whose headers never finished")
		}
	})
	t.Run("body never finishes", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/accounts/%s/fund HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"amount\":", w.payer1.ID, f.admin)
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept waiting for a body that never came")
		}
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d, want 408", resp.StatusCode)
			}
		}
	})
	if f.snapshot() != before {
		t.Fatal("a slow client changed the ledger")
	}
}

func TestRequestLogNamesNoSecret(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	f.do("POST", "/v1/cards", f.admin, `{"account":"`+w.payer1.ID+`","label":"Visa","pan":"4111111111111111","device":"`+w.dev1+`"}`, "Idempotency-Key", "card-1")
	f.do("GET", "/v1/accounts/"+w.payer1.ID, f.admin, "")
	f.do("GET", "/v1/accounts", "tpk_wrong", "")
	logs := f.logs.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 requests:\n%s", len(lines), logs)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	actor, err := f.local.Authenticate(context.Background(), f.admin)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"method": "POST", "route": "POST /v1/cards", "status": float64(200), "key": actor.ID}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("log field %s = %v, want %v (line %s)", k, first[k], v, lines[0])
		}
	}
	if _, ok := first["duration"]; !ok {
		t.Errorf("log line without duration: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"route":"GET /v1/accounts/{id}"`) {
		t.Errorf("log line names no route pattern: %s", lines[1])
	}
	for _, secret := range []string{f.admin, strings.TrimPrefix(f.admin, store.SecretPrefix), "tpk_wrong", "4111111111111111", "card-1", "Visa"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}

func TestHealthzNeedsNoKey(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/healthz", "", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"ok"`) {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
}

// Ids are Crockford base32: a client that sends one in upper case, in the path, the
// query or the body, names the same record, which the answer spells as the ledger does.
func TestIDsInAnyCase(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	upper := strings.ToUpper

	r := f.do("GET", "/v1/orders/"+upper(w.paid1.ID), f.admin, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"id":"`+w.paid1.ID+`"`) {
		t.Fatalf("GET order by upper-case id: %d %s", r.status, r.body)
	}
	r = f.do("GET", "/v1/orders?payer="+upper(w.payer1.ID), f.admin, "")
	if r.status != 200 || !strings.Contains(string(r.body), w.paid1.ID) {
		t.Fatalf("list orders by upper-case payer: %d %s", r.status, r.body)
	}
	r = f.do("POST", "/v1/accounts/"+upper(w.payer1.ID)+"/fund", f.admin, `{"amount": "1.00"}`, "Idempotency-Key", "case-1")
	if r.status != 200 {
		t.Fatalf("fund by upper-case id: %d %s", r.status, r.body)
	}
	r = f.do("POST", "/v1/payment-requests", f.admin, `{"uid": "`+strings.ToLower(w.tag1.UID)+`", "content": "`+w.tag1.Content+`"}`, "Idempotency-Key", "case-2")
	var reply struct{ ID string }
	if err := json.Unmarshal(r.body, &reply); err != nil || reply.ID == "" {
		t.Fatalf("payment request: %d %s", r.status, r.body)
	}
	r = f.do("POST", "/v1/orders", f.admin, `{"reply": "`+upper(reply.ID)+`", "payer": "`+upper(w.payer1.ID)+`", "amount": "1.00"}`, "Idempotency-Key", "case-3")
	if r.status != 200 || !strings.Contains(string(r.body), `"payer":"`+w.payer1.ID+`"`) {
		t.Fatalf("create order from upper-case ids: %d %s", r.status, r.body)
	}
	f.verifyClean()
}

// TestListsWithoutALimitComeInPages: a request without a limit gets one page of
// store.MaxLimit, so that no request walks a whole ledger; the client pages on with
// after and hands its caller the whole list, as the local backend does.
func TestListsWithoutALimitComeInPages(t *testing.T) {
	f := newFixture(t)
	ctx := store.WithActor(context.Background(), store.LocalActor)
	acct, err := f.local.CreateAccount(ctx, store.CreateAccountRequest{Name: "Ada", Kind: store.AccountPerson, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	cent, err := store.ParseAmount("0.01", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	const n = store.MaxLimit + 5
	err = f.local.DB.Update(ctx, func(tx *store.Tx) error {
		for range n {
			if _, err := tx.Fund(acct.ID, cent); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := f.do("GET", "/v1/journal", f.admin, "")
	var page []store.Transfer
	if err := json.Unmarshal(r.body, &page); r.status != 200 || err != nil || len(page) != store.MaxLimit {
		t.Fatalf("GET /v1/journal without a limit: status %d, %d transfers (%v); want one page of %d", r.status, len(page), err, store.MaxLimit)
	}
	want, err := f.local.Journal(ctx, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.client(f.admin).Journal(ctx, store.Page{})
	if err != nil || len(got) != n || len(want) != n {
		t.Fatalf("whole journal: %d transfers from the client (%v), %d locally; want %d", len(got), err, len(want), n)
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("transfer %d: %s from the client, %s locally", i, got[i].ID, want[i].ID)
		}
	}
	f.verifyClean()
}
