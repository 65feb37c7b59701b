package api

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// eventGets are the GET requests of the event and webhook routes on a built world, with
// an endpoint and one attempt to list; the stream is no JSON answer and is left out.
func eventGets(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	ctx := context.Background()
	evs, err := f.local.ListEvents(ctx, events.Query{Limit: 1})
	if err != nil || len(evs) == 0 {
		t.Fatalf("events of the world: %v %v", evs, err)
	}
	id := newWebhook(t, f)
	if _, err := f.local.TestWebhook(ctx, id); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"GET /v1/events": "/v1/events", "GET /v1/events/{id}": "/v1/events/" + evs[0].ID,
		"GET /v1/webhooks": "/v1/webhooks", "GET /v1/webhooks/{id}/deliveries": "/v1/webhooks/" + id + "/deliveries",
		"GET /v1/events/stream": "",
	}
}

// TestEventsOfWhatTheKeyOwns: each role lists the events of its own accounts only, and
// an event of another is not found.
func TestEventsOfWhatTheKeyOwns(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	ctx := context.Background()
	all, err := f.client(f.admin).ListEvents(ctx, events.Query{Limit: events.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		key     string
		account string
	}{
		{"payer1", f.key(store.RolePayer, w.payer1.ID), w.payer1.ID},
		{"merchant2", f.key(store.RoleMerchant, w.merchant2.ID), w.merchant2.ID},
	} {
		cl := f.client(c.key)
		got, err := cl.ListEvents(ctx, events.Query{Limit: events.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, e := range all {
			mine := false
			for _, a := range e.Accounts {
				mine = mine || a == c.account
			}
			if !mine {
				if _, err := cl.GetEvent(ctx, e.ID); store.CodeOf(err) != "event_not_found" {
					t.Errorf("%s: event %s of %v: %v, want event_not_found", c.name, e.ID, e.Accounts, err)
				}
				continue
			}
			want++
		}
		if len(got) != want || want == 0 || want == len(all) {
			t.Errorf("%s sees %d events of %d, want %d", c.name, len(got), len(all), want)
		}
		for _, e := range got {
			found := false
			for _, a := range e.Accounts {
				found = found || a == c.account
			}
			if !found {
				t.Errorf("%s sees %s %s of %v", c.name, e.Type, e.ID, e.Accounts)
			}
		}
	}
}

// readStream reads the server-sent events of one stream until n have come.
func readStream(t *testing.T, f *fixture, query, lastID string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.http.URL+"/v1/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+f.admin)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var ids []string
	sc := bufio.NewScanner(resp.Body)
	var id string
	for sc.Scan() && len(ids) < n {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ids = append(ids, id)
		}
	}
	if len(ids) < n {
		t.Fatalf("stream ended after %d events, want %d", len(ids), n)
	}
	return ids
}

func TestEventStreamResumesAfterLastEventID(t *testing.T) {
	f := newFixture(t)
	f.buildWorld()
	ctx := context.Background()
	all, err := f.local.ListEvents(ctx, events.Query{Limit: events.MaxLimit})
	if err != nil || len(all) < 4 {
		t.Fatalf("%d events: %v", len(all), err)
	}
	// Oldest first: all is newest first.
	var ids []string
	for i := len(all) - 1; i >= 0; i-- {
		ids = append(ids, all[i].ID)
	}
	got := readStream(t, f, "", ids[1], 2)
	if got[0] != ids[2] || got[1] != ids[3] {
		t.Fatalf("after %s the stream sent %v, want %v", ids[1], got, ids[2:4])
	}
	// Last-Event-ID wins over since; the type filter applies.
	paid, err := f.local.ListEvents(ctx, events.Query{Types: "order.paid", Since: ids[0], Limit: 2})
	if err != nil || len(paid) != 2 {
		t.Fatalf("paid events: %v %v", paid, err)
	}
	got = readStream(t, f, "?type=order.paid&since="+ids[len(ids)-1], ids[0], 2)
	if got[0] != paid[0].ID || got[1] != paid[1].ID {
		t.Fatalf("order.paid stream sent %v, want %s %s", got, paid[0].ID, paid[1].ID)
	}
	// An event written while the stream runs comes through it.
	done := make(chan []string)
	go func() { done <- readStream(t, f, "", ids[len(ids)-1], 1) }()
	time.Sleep(300 * time.Millisecond)
	if _, err := f.local.FundAccount(ctx, store.FundRequest{Account: all[0].Accounts[0], Amount: "1.00"}); err != nil {
		t.Fatal(err)
	}
	latest, _ := f.local.ListEvents(ctx, events.Query{Limit: 1})
	if got := <-done; got[0] != latest[0].ID {
		t.Fatalf("live event %v, want %s", got, latest[0].ID)
	}
	// A bad Last-Event-ID is refused before the stream starts.
	if r := f.do("GET", "/v1/events/stream", f.admin, "", "Last-Event-ID", "evt_nope"); r.status != 400 || r.errorDetail(t).Code != "invalid_since" {
		t.Fatalf("bad Last-Event-ID: %d %s", r.status, r.body)
	}
}

// TestClientFollowResumesAcrossStreams: the client's follower reconnects when a stream
// ends and neither misses nor repeats an event.
func TestClientFollowsEvents(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	got := make(chan events.Event, 10)
	go f.client(f.admin).FollowEvents(ctx, events.Query{Types: "account.*"}, func(e events.Event) error { got <- e; return nil })
	time.Sleep(300 * time.Millisecond)
	f.http.CloseClientConnections() // as if the server restarted: the client connects again
	var want []string
	for range 3 {
		tr, err := f.local.FundAccount(ctx, store.FundRequest{Account: w.payer1.ID, Amount: "1.00"})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, tr.ID)
		time.Sleep(100 * time.Millisecond)
		f.http.CloseClientConnections()
	}
	seen := map[string]bool{}
	for range want {
		select {
		case e := <-got:
			if seen[e.ID] {
				t.Fatalf("event %s came twice", e.ID)
			}
			seen[e.ID] = true
			if e.Type != events.AccountFunded {
				t.Fatalf("followed a %s", e.Type)
			}
		case <-ctx.Done():
			t.Fatalf("followed %d of %d events", len(seen), len(want))
		}
	}
	select {
	case e := <-got:
		t.Fatalf("an extra event %s %s", e.Type, e.ID)
	case <-time.After(500 * time.Millisecond):
	}
}
