package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// The hand-written encoders write what encoding/json writes for the same fields, for
// every kind of text a name or memo may hold.
func TestHandWrittenJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	for _, text := range []string{"Corner Café", `quote " and \ backslash`, "tab\tnew\nline\r", "\x01\x1f", "bad \xff utf8", "line\u2028sep\u2029", "<b>&amp;</b>", ""} {
		a := Account{ID: "acct_1", Name: text, Kind: AccountPerson, Currency: "EUR", Balance: -1234, CreatedAt: at}
		want := encode(t, struct {
			ID        string      `json:"id"`
			Name      string      `json:"name"`
			Kind      AccountKind `json:"kind"`
			Currency  string      `json:"currency"`
			Balance   Money       `json:"balance"`
			CreatedAt time.Time   `json:"created_at"`
		}{a.ID, a.Name, a.Kind, a.Currency, a.BalanceMoney(), a.CreatedAt})
		same(t, "account", a, want)

		tr := Transfer{ID: "tr_1", Kind: "payment", From: "acct_1", To: "acct_2", Amount: Money{Amount: 350, Currency: "EUR"}, Ref: "ord_1", Memo: text,
			Postings: [2]Posting{{Account: "acct_1", Amount: -350}, {Account: "acct_2", Amount: 350}}, CreatedAt: at}
		type posting struct {
			Account string `json:"account"`
			Amount  Money  `json:"amount"`
		}
		want = encode(t, struct {
			ID        string       `json:"id"`
			Kind      TransferKind `json:"kind"`
			From      string       `json:"from"`
			To        string       `json:"to"`
			Amount    Money        `json:"amount"`
			Ref       string       `json:"ref,omitempty"`
			Memo      string       `json:"memo,omitempty"`
			Postings  [2]posting   `json:"postings"`
			CreatedAt time.Time    `json:"created_at"`
		}{tr.ID, tr.Kind, tr.From, tr.To, tr.Amount, tr.Ref, tr.Memo,
			[2]posting{{"acct_1", Money{-350, "EUR"}}, {"acct_2", Money{350, "EUR"}}}, tr.CreatedAt})
		same(t, "transfer", tr, want)

		e := DomainEvent{ID: "evt_1", Type: "order.paid", At: at, Subject: text, Accounts: []string{"acct_1", text}, Data: json.RawMessage(`{"memo":"x"}`)}
		type plain DomainEvent
		same(t, "event", e, encode(t, plain(e)))

		for _, detail := range []map[string]string{nil, {}, {"transfer": "tr_1", "reply": text, text: "x"}} {
			line := Event{ID: "evt_2", At: at, Actor: "key_1", Action: "tap", Subject: text, Detail: detail}
			type plainLine Event
			same(t, "audit line", line, encode(t, plainLine(line)))
		}
		rec := IdempotencyRecord{Op: "tap", Hash: text, Result: json.RawMessage(`{"id":"ord_1","memo":"x"}`), CreatedAt: at}
		type plainRecord IdempotencyRecord
		same(t, "idempotency record", rec, encode(t, plainRecord(rec)))
	}
	// Data that is not JSON is refused, as encoding/json refuses it.
	if _, err := json.Marshal(DomainEvent{ID: "evt_1", Data: json.RawMessage(`{"a":`)}); err == nil {
		t.Error("an event whose data is not JSON was encoded")
	}
}

// encode is encoding/json's output for v.
func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// same checks that v encodes to want. json.Marshal passes a MarshalJSON result through
// its own escaping of <, > and &, so both sides are compared after it.
func same(t *testing.T, what string, v any, want []byte) {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}
