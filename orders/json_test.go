package orders

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

// The hand-written encoders of Order and ParsingReply write what encoding/json writes
// from their struct tags, with every optional field present and absent.
func TestOrderJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 5, time.UTC)
	paid := at.Add(time.Second)
	eur := func(n int64) store.Money { return store.Money{Amount: n, Currency: "EUR"} }
	orders := []Order{
		{ID: "ord_1", Reply: "rep_1", Tag: "tag_1", Payer: "acct_1", Payee: "acct_2", PayeeName: `Café "<&>"`, Amount: eur(350), Refunded: eur(0), Status: OrderCreated, CreatedAt: at},
		{ID: "ord_2", Reply: "rep_2", Tag: "tag_2", Payer: "acct_1", Payee: "acct_2", PayeeName: "Kiosk", Amount: eur(100), Refunded: eur(50), Memo: "tab\there\u2028", Status: OrderRefunded, Reason: "bad \xff",
			Instrument: &Instrument{Kind: "token", Card: "card_1", Token: "tok_1"}, Transfer: "tr_1", Refunds: []string{"rf_1", "rf_2"}, CreatedAt: at, PaidAt: &paid},
		{ID: "ord_3", Instrument: &Instrument{Kind: "balance"}, Refunds: []string{}},
	}
	type plainOrder Order
	for _, o := range orders {
		sameJSON(t, o, plainOrder(o))
	}
	type plainReply ParsingReply
	for _, r := range []ParsingReply{
		{ID: "rep_1", Tag: "tag_1", TagRef: "ABC", Payee: "acct_2", PayeeName: "Shop\n", Currency: "EUR", ExpiresAt: at, CreatedAt: at},
		{ID: "rep_2", Amount: &store.Money{Amount: 250, Currency: "EUR"}, Caller: "key_1", Used: true, ExpiresAt: at, CreatedAt: at},
	} {
		sameJSON(t, r, plainReply(r))
	}
}

func sameJSON(t *testing.T, v, reference any) {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(reference)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
