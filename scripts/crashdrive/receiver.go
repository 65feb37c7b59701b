package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/webhook"
)

// refusePercent is the share of first attempts the receiver answers 500, so that the
// servers' retries run during the run and not only in unit tests.
const refusePercent = 5

// slowPercent of the deliveries are answered after a pause of 20 to 100 ms, the event
// recorded first: a kill that lands in the pause loses the answer of a delivery the
// endpoint has, and the event must come again with the same id.
const slowPercent = 10

// receiver is the webhook endpoint of the run: it checks each delivery's signature as
// a merchant's endpoint would, and records which events arrived and which order each
// one names.
type receiver struct {
	seed     uint64
	slowPcnt uint64 // slowPercent; tests set 0
	srv      *http.Server
	url      string

	mu         sync.Mutex
	secret     string
	deliveries int                        // accepted (2xx) deliveries, repeats included
	refused    int                        // first attempts answered 500 on purpose
	slow       int                        // deliveries answered after a pause
	paused     atomic.Int32               // answers being held back now
	events     map[string]string          // event id → the order it names
	byOrder    map[string]map[string]bool // order → the ids of its order.paid events
	badSig     int
	problems   []string
}

// newReceiver listens on a loopback port; it refuses every delivery until setSecret.
func newReceiver(seed uint64) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &receiver{seed: seed, slowPcnt: slowPercent, url: "http://" + ln.Addr().String() + "/hook", events: map[string]string{}, byOrder: map[string]map[string]bool{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) close() { r.srv.Close() }

func (r *receiver) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// ServeHTTP takes one delivery: 401 for a bad signature (a problem of the run), 500 for
// a share of first attempts, else it records the event and answers 204, now and then
// after a pause.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the body", http.StatusBadRequest)
		return
	}
	status, msg, pause := r.take(req.Header, body)
	if pause > 0 {
		r.paused.Add(1)
		time.Sleep(pause)
		r.paused.Add(-1)
	}
	if msg != "" {
		http.Error(w, msg, status)
		return
	}
	w.WriteHeader(status)
}

// take judges and records one delivery: the status to answer, an error message for a
// refusal, and how long to wait before answering.
func (r *receiver) take(h http.Header, body []byte) (int, string, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := webhook.Verify(r.secret, h.Get(webhook.SignatureHeader), body, 0, time.Now()); err != nil {
		r.badSig++
		r.problem("webhook delivery %s refused: %v", h.Get("Tagpay-Event-Id"), err)
		return http.StatusUnauthorized, err.Error(), 0
	}
	var e events.Event
	if err := json.Unmarshal(body, &e); err != nil {
		r.problem("webhook delivery is not an event: %v", err)
		return http.StatusBadRequest, "not an event", 0
	}
	if e.Type != events.OrderPaid || !strings.HasPrefix(e.Subject, "ord_") || h.Get("Tagpay-Event-Id") != e.ID {
		r.problem("webhook delivery of event %s (%s about %q, header id %q): the endpoint takes order.paid only", e.ID, e.Type, e.Subject, h.Get("Tagpay-Event-Id"))
		return http.StatusBadRequest, "unexpected event", 0
	}
	attempt := h.Get("Tagpay-Delivery-Attempt")
	if attempt == "1" && r.draw(e.ID, "refuse")%100 < refusePercent {
		r.refused++
		return http.StatusInternalServerError, "refused on purpose, to be retried", 0
	}
	r.deliveries++
	if order, seen := r.events[e.ID]; seen {
		if order != e.Subject {
			r.problem("event %s arrived naming order %s, then order %s", e.ID, order, e.Subject)
		}
	} else {
		r.events[e.ID] = e.Subject
		if r.byOrder[e.Subject] == nil {
			r.byOrder[e.Subject] = map[string]bool{}
		}
		r.byOrder[e.Subject][e.ID] = true
	}
	var pause time.Duration
	if d := r.draw(e.ID, "slow/"+attempt); d%100 < r.slowPcnt {
		r.slow++
		pause = time.Duration(20+d/100%81) * time.Millisecond
	}
	return http.StatusNoContent, "", pause
}

// draw is the run's random number for what of event id: it depends on the seed and the
// event alone, so an event's fate is the same whichever replica sends it.
func (r *receiver) draw(id, what string) uint64 {
	h := fnv.New64a()
	binary.Write(h, binary.LittleEndian, r.seed)
	h.Write([]byte(what + "\x00" + id))
	return h.Sum64()
}

// accepted is the number of deliveries answered 2xx so far.
func (r *receiver) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deliveries
}

// missing returns the orders of paid that no received order.paid names.
func (r *receiver) missing(paid map[string]owed) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range paid {
		if len(r.byOrder[id]) == 0 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// waitFor polls until every order of paid has its order.paid, or for at most limit; it
// returns the orders still missing.
func (r *receiver) waitFor(paid map[string]owed, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		m := r.missing(paid)
		if len(m) == 0 || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// webhookReport is the receiver's verdict on what it got, for the orders of paid.
type webhookReport struct {
	deliveries, distinct, missing, repeats, badSig, refused, slow int
	problems                                                      []string
}

func (r *receiver) report(paid map[string]owed) webhookReport {
	missing := r.missing(paid)
	r.mu.Lock()
	defer r.mu.Unlock()
	out := webhookReport{
		deliveries: r.deliveries, distinct: len(r.events), missing: len(missing),
		repeats: r.deliveries - len(r.events), badSig: r.badSig, refused: r.refused, slow: r.slow,
		problems: append([]string(nil), r.problems...),
	}
	for i, id := range missing {
		if i == 10 {
			out.problems = append(out.problems, fmt.Sprintf("… and %d more orders without order.paid", len(missing)-i))
			break
		}
		out.problems = append(out.problems, fmt.Sprintf("order %s was acknowledged as paid but its order.paid never arrived", id))
	}
	orders := make([]string, 0, len(r.byOrder))
	for o := range r.byOrder {
		orders = append(orders, o)
	}
	sort.Strings(orders)
	for _, o := range orders {
		ids := r.byOrder[o]
		if len(ids) > 1 {
			out.problems = append(out.problems, fmt.Sprintf("order %s has %d different order.paid events (%s): an event written twice, not an event delivered twice", o, len(ids), strings.Join(sortedKeys(ids), ", ")))
		}
		if _, ok := paid[o]; !ok {
			out.problems = append(out.problems, fmt.Sprintf("order.paid arrived for order %s, which no client was told was paid", o))
		}
	}
	return out
}

func (w webhookReport) ok() bool { return len(w.problems) == 0 && w.missing == 0 && w.badSig == 0 }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
