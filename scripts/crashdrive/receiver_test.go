package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/webhook"
)

const testSecret = "whsec_test"

// deliver posts event id about order to r as a server would, signed with secret.
func deliver(t *testing.T, r *receiver, secret, id, order string, attempt int) int {
	t.Helper()
	body, err := json.Marshal(events.Event{ID: id, Type: events.OrderPaid, At: time.Now(), Subject: order, Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(string(body)))
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, time.Now(), body))
	req.Header.Set("Tagpay-Event-Id", id)
	req.Header.Set("Tagpay-Delivery-Attempt", fmt.Sprint(attempt))
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec.Code
}

func testReceiver(t *testing.T) *receiver {
	r, err := newReceiver(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	r.slowPcnt = 0 // no pauses: the tests need no kill to land in them
	r.setSecret(testSecret)
	return r
}

func TestReceiverCountsRepeatsAndMissingOrders(t *testing.T) {
	r := testReceiver(t)
	paid := map[string]owed{"ord_1": {}, "ord_2": {}}
	// Second attempts are never refused on purpose, so every one of these is taken.
	for _, code := range []int{deliver(t, r, testSecret, "evt_1", "ord_1", 2), deliver(t, r, testSecret, "evt_1", "ord_1", 3)} {
		if code != http.StatusNoContent {
			t.Fatalf("a good delivery was answered %d", code)
		}
	}
	rep := r.report(paid)
	if rep.deliveries != 2 || rep.distinct != 1 || rep.repeats != 1 || rep.missing != 1 || rep.ok() {
		t.Fatalf("report %+v: want 2 deliveries of 1 event, 1 repeat, ord_2 missing, not ok", rep)
	}
	if m := r.missing(paid); len(m) != 1 || m[0] != "ord_2" {
		t.Fatalf("missing %v, want ord_2", m)
	}
	deliver(t, r, testSecret, "evt_2", "ord_2", 2)
	if rep := r.report(paid); !rep.ok() || rep.missing != 0 {
		t.Fatalf("every order has its event: %+v", rep)
	}
}

func TestReceiverRefusesABadSignature(t *testing.T) {
	r := testReceiver(t)
	if code := deliver(t, r, "whsec_other", "evt_1", "ord_1", 2); code != http.StatusUnauthorized {
		t.Fatalf("a delivery signed with another secret was answered %d, want 401", code)
	}
	rep := r.report(map[string]owed{})
	if rep.badSig != 1 || rep.distinct != 0 || rep.ok() {
		t.Fatalf("report %+v: want one bad signature, no event, not ok", rep)
	}
}

func TestReceiverFlagsTwoEventsForOneOrder(t *testing.T) {
	r := testReceiver(t)
	deliver(t, r, testSecret, "evt_1", "ord_1", 2)
	deliver(t, r, testSecret, "evt_2", "ord_1", 2)
	rep := r.report(map[string]owed{"ord_1": {}})
	if rep.ok() || !strings.Contains(strings.Join(rep.problems, "\n"), "2 different order.paid events") {
		t.Fatalf("two events for one order passed: %+v", rep)
	}
}

func TestReceiverRefusesSomeFirstAttemptsOnly(t *testing.T) {
	r := testReceiver(t)
	refused := 0
	for i := range 400 {
		id := fmt.Sprint("evt_", i)
		if code := deliver(t, r, testSecret, id, "ord_"+id, 1); code == http.StatusInternalServerError {
			refused++
			if code := deliver(t, r, testSecret, id, "ord_"+id, 2); code != http.StatusNoContent {
				t.Fatalf("the second attempt of %s was answered %d", id, code)
			}
		}
	}
	if refused == 0 || refused > 60 {
		t.Fatalf("%d of 400 first attempts refused, want about %d%%", refused, refusePercent)
	}
	if rep := r.report(map[string]owed{}); rep.distinct != 400 || rep.refused != refused {
		t.Fatalf("report %+v: want 400 events and %d refusals", rep, refused)
	}
}
