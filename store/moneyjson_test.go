package store

import (
	"encoding/json"
	"testing"
)

func TestStoredRecordsKeepNoFormattedText(t *testing.T) {
	tr := Transfer{ID: "tr_1", Amount: Money{Amount: 350, Currency: "EUR"}, Memo: `a memo saying ,"formatted":"x" inside`,
		Postings: [2]Posting{{Account: "a", Amount: -350}, {Account: "b", Amount: 350}}}
	shown, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	stored := stripFormatted(shown)
	if got := string(stored); len(got) >= len(shown) || json.Valid(stored) == false {
		t.Fatalf("stored %s", got)
	}
	var back Transfer
	if err := json.Unmarshal(stored, &back); err != nil {
		t.Fatal(err)
	}
	if back.Memo != tr.Memo || back.Amount != tr.Amount || back.Postings != tr.Postings {
		t.Fatalf("round trip: %+v, want %+v", back, tr)
	}
	// Shown again, every amount is formatted as before.
	again, _ := json.Marshal(back)
	if string(again) != string(shown) {
		t.Fatalf("shown after storing:\n%s\nwant\n%s", again, shown)
	}
}

// FuzzMinorUnits holds the fast reading of stored money to the full decoder's: a
// damaged or hostile ledger record gives the same amount or an error, never a panic.
func FuzzMinorUnits(f *testing.F) {
	for _, s := range []string{`{"amount":350,"currency":"EUR"}`, `{"amount":-1}`, `{"amount":-}`, `{"amount":1e3}`, `350`, `null`, `{"amount":99999999999999999999}`, `{"currency":"EUR","amount":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := minorUnits(raw)
		if err != nil || !json.Valid(raw) || len(raw) == 0 || raw[0] != '{' {
			return
		}
		var m struct {
			Amount int64 `json:"amount"`
		}
		if json.Unmarshal(raw, &m) == nil && m.Amount != got {
			t.Fatalf("minorUnits(%s) = %d, the decoder reads %d", raw, got, m.Amount)
		}
	})
}
