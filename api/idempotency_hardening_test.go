package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

// postCase is one POST route made to succeed on a fresh world: the path and body of a
// first request, and a second request that differs from it (in body or, where the body
// can say nothing more, in path) under the same idempotency key.
type postCase struct {
	path, body           string
	otherPath, otherBody string
}

// postCases says, for each POST route pattern, how to call it successfully.
var postCases = map[string]func(t *testing.T, f *fixture, w world) postCase{
	"POST /v1/accounts": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/accounts", body: `{"name":"Eve","kind":"person","currency":"EUR"}`, otherBody: `{"name":"Eve","kind":"merchant","currency":"EUR"}`}
	},
	"POST /v1/accounts/{id}/fund": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/accounts/" + w.payer1.ID + "/fund", body: `{"amount":"1.00"}`, otherBody: `{"amount":"2.00"}`}
	},
	"POST /v1/tags": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/tags", body: `{"uid":"04A1B2C3D4E5F6","merchant":"` + w.merchant1.ID + `"}`, otherBody: `{"uid":"04A1B2C3D4E5F7","merchant":"` + w.merchant1.ID + `"}`}
	},
	"POST /v1/tags/{tag}/confirm": func(t *testing.T, f *fixture, w world) postCase {
		tag, err := f.local.RegisterTag(context.Background(), orders.RegisterRequest{UID: "04A1B2C3D4E5F8", Merchant: w.merchant1.ID, Pending: true})
		if err != nil {
			t.Fatal(err)
		}
		return postCase{path: "/v1/tags/" + tag.ID + "/confirm", body: jsonOf(t, map[string]string{"uid": tag.UID, "content": tag.Content}), otherBody: jsonOf(t, map[string]string{"uid": tag.UID, "content": tag.Content + "x"})}
	},
	"POST /v1/tags/{tag}/fail": func(t *testing.T, f *fixture, w world) postCase {
		tag, err := f.local.RegisterTag(context.Background(), orders.RegisterRequest{UID: "04A1B2C3D4E5F9", Merchant: w.merchant1.ID, Pending: true})
		if err != nil {
			t.Fatal(err)
		}
		return postCase{path: "/v1/tags/" + tag.ID + "/fail", body: `{"reason":"write failed"}`, otherBody: `{"reason":"other"}`}
	},
	"POST /v1/tags/{tag}/revoke": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/tags/" + w.tag1.ID + "/revoke", body: `{"reason":"lost"}`, otherBody: `{"reason":"stolen"}`}
	},
	"POST /v1/payment-requests": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/payment-requests", body: jsonOf(t, map[string]string{"uid": w.tag1.UID, "content": w.tag1.Content}), otherBody: jsonOf(t, map[string]string{"uid": w.tag2.UID, "content": w.tag2.Content})}
	},
	"POST /v1/taps": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/taps",
			body:      `{"uid":"` + w.tag1.UID + `","content":"` + w.tag1.Content + `","payer":"` + w.payer1.ID + `","amount":"1.00"}`,
			otherBody: `{"uid":"` + w.tag1.UID + `","content":"` + w.tag1.Content + `","payer":"` + w.payer1.ID + `","amount":"2.00"}`}
	},
	"POST /v1/orders": func(t *testing.T, f *fixture, w world) postCase {
		// A parsing reply is its caller's: ask for it with the key that orders.
		resp := f.do("POST", "/v1/payment-requests", f.admin, jsonOf(t, map[string]string{"uid": w.tag1.UID, "content": w.tag1.Content}))
		var r orders.ParsingReply
		if err := json.Unmarshal(resp.body, &r); err != nil || resp.status != 200 {
			t.Fatalf("payment request: %d %s", resp.status, resp.body)
		}
		return postCase{path: "/v1/orders", body: `{"reply":"` + r.ID + `","payer":"` + w.payer1.ID + `","amount":"5.00"}`, otherBody: `{"reply":"` + r.ID + `","payer":"` + w.payer1.ID + `","amount":"6.00"}`}
	},
	"POST /v1/orders/{id}/pay": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/orders/" + w.open2.ID + "/pay", body: `{}`, otherBody: `{"payment_token":"` + w.token2.ID + `","device":"phone-2"}`}
	},
	"POST /v1/orders/{id}/refund": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/orders/" + w.paid1.ID + "/refund", body: `{"amount":"1.00"}`, otherBody: `{"amount":"2.00"}`}
	},
	"POST /v1/orders/{id}/cancel": func(t *testing.T, f *fixture, w world) postCase {
		// A cancel says nothing but the order: the other request cancels another order.
		other := openOrder(t, f, w.tag1, w.payer1)
		return postCase{path: "/v1/orders/" + w.open2.ID + "/cancel", body: `{}`, otherPath: "/v1/orders/" + other.ID + "/cancel", otherBody: `{}`}
	},
	"POST /v1/devices/{device}/login": func(t *testing.T, f *fixture, w world) postCase {
		dev := store.NewID(store.PrefixDevice)
		return postCase{path: "/v1/devices/" + dev + "/login", body: `{"account":"` + w.payer1.ID + `","name":"phone"}`, otherBody: `{"account":"` + w.payer1.ID + `","name":"tablet"}`}
	},
	"POST /v1/devices/{device}/logout": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/devices/" + w.dev2b + "/logout", body: `{"account":"` + w.payer2.ID + `"}`, otherBody: `{}`}
	},
	"POST /v1/cards": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/cards", body: `{"account":"` + w.payer1.ID + `","label":"credit","device":"` + w.dev1 + `"}`, otherBody: `{"account":"` + w.payer1.ID + `","label":"other","device":"` + w.dev1 + `"}`}
	},
	"POST /v1/cards/{id}/activate": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/cards/" + w.card1.ID + "/activate", body: `{"functions":["qr"]}`, otherBody: `{"functions":["online"]}`}
	},
	"POST /v1/cards/{id}/deactivate": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/cards/" + w.card1.ID + "/deactivate", body: `{"functions":["nfc"]}`, otherBody: `{"functions":["qr"]}`}
	},
	"POST /v1/migrations": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/migrations", body: `{"account":"` + w.payer2.ID + `","from":"` + w.dev2 + `","to":"` + w.dev2b + `"}`, otherBody: `{"account":"` + w.payer2.ID + `","from":"` + w.dev2 + `","to":"` + w.dev2b + `","card":"` + w.card2.ID + `"}`}
	},
	"POST /v1/tokens/{token}/suspend": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/tokens/" + w.token2.ID + "/suspend", body: `{"reason":"lost"}`, otherBody: `{"reason":"stolen"}`}
	},
	"POST /v1/tokens/{token}/resume": func(t *testing.T, f *fixture, w world) postCase {
		if _, err := f.local.ChangeToken(context.Background(), cards.TokenStatusRequest{Token: w.token2.ID, Action: cards.ActionSuspend, Reason: "lost"}); err != nil {
			t.Fatal(err)
		}
		return postCase{path: "/v1/tokens/" + w.token2.ID + "/resume", body: `{}`, otherBody: `{"reason":"user"}`}
	},
	"POST /v1/tokens/{token}/delete": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/tokens/" + w.token2.ID + "/delete", body: `{"reason":"lost"}`, otherBody: `{"reason":"stolen"}`}
	},
	"POST /v1/keys": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/keys", body: `{"role":"admin"}`, otherBody: `{"role":"merchant","account":"` + w.merchant1.ID + `"}`}
	},
	"POST /v1/webhooks": func(t *testing.T, f *fixture, w world) postCase {
		return postCase{path: "/v1/webhooks", body: `{"url":"http://127.0.0.1:9/hook","events":"order.paid"}`, otherBody: `{"url":"http://127.0.0.1:9/hook","events":"order.*"}`}
	},
	"POST /v1/webhooks/{id}/delete": func(t *testing.T, f *fixture, w world) postCase {
		// A deletion's body is empty: the other request deletes another endpoint.
		a, b := newWebhook(t, f), newWebhook(t, f)
		return postCase{path: "/v1/webhooks/" + a + "/delete", body: `{}`, otherPath: "/v1/webhooks/" + b + "/delete", otherBody: `{}`}
	},
	"POST /v1/webhooks/{id}/test": func(t *testing.T, f *fixture, w world) postCase {
		a, b := newWebhook(t, f), newWebhook(t, f)
		return postCase{path: "/v1/webhooks/" + a + "/test", body: `{}`, otherPath: "/v1/webhooks/" + b + "/test", otherBody: `{}`}
	},
	"POST /v1/keys/{id}/rotate": func(t *testing.T, f *fixture, w world) postCase {
		a := keyID(t, f, f.key(store.RoleAdmin, ""))
		return postCase{path: "/v1/keys/" + a + "/rotate", body: `{"grace_seconds":60}`, otherBody: `{}`}
	},
	"POST /v1/keys/{id}/revoke": func(t *testing.T, f *fixture, w world) postCase {
		// A revocation's body is empty: the other request revokes another key.
		a, b := keyID(t, f, f.key(store.RoleAdmin, "")), keyID(t, f, f.key(store.RoleAdmin, ""))
		return postCase{path: "/v1/keys/" + a + "/revoke", body: `{}`, otherPath: "/v1/keys/" + b + "/revoke", otherBody: `{}`}
	},
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func openOrder(t *testing.T, f *fixture, tag orders.Tag, payer store.Account) orders.Order {
	t.Helper()
	ctx := context.Background()
	r, err := f.local.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content})
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.local.CreateOrder(ctx, orders.OrderRequest{Reply: r.ID, Payer: payer.ID, Amount: "1.00"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// newWebhook registers an endpoint on a loopback port nothing listens on, so a test
// delivery fails at once.
func newWebhook(t *testing.T, f *fixture) string {
	t.Helper()
	w, err := f.local.CreateWebhook(context.Background(), webhook.CreateRequest{URL: "http://127.0.0.1:9/hook", Events: "*"})
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}

func keyID(t *testing.T, f *fixture, secret string) string {
	t.Helper()
	a, err := f.local.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// specPOSTs lists "POST /path" for every POST operation of openapi.yaml.
func specPOSTs(t *testing.T) []string {
	doc, _ := loadSpec(t)
	var out []string
	for p, ops := range doc.Paths {
		if _, ok := ops["post"]; ok {
			out = append(out, "POST "+p)
		}
	}
	slices.Sort(out)
	return out
}

// withoutSecret blanks the one field a replay leaves out on purpose: a created key's
// secret is shown once and never stored.
func withoutSecret(t *testing.T, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return body
	}
	if _, ok := m["secret"]; !ok {
		return body
	}
	delete(m, "secret")
	b, _ := json.Marshal(m)
	return b
}

// readOnlyPOSTs are the POSTs that write nothing, so there is no effect to apply twice
// and no key to record; each says why it is a POST.
var readOnlyPOSTs = map[string]string{
	"POST /v1/taps/preview": "the preview of a tap carries the tag's content in its body and writes nothing",
	"POST /v1/tags/inspect": "an inspection carries the tag's content in its body and writes nothing",
	// Its answer holds secrets, which must never be kept as a stored answer.
	"POST /v1/tags/{tag}/secrets": "it hands out a tag's secrets, which no idempotency record may keep",
}

// TestEveryPOSTInTheSpecIsIdempotent sends each POST of the spec twice with one key and
// the same body (the stored answer, no second effect), then once with another request
// (409, no effect), against a real server.
func TestEveryPOSTInTheSpecIsIdempotent(t *testing.T) {
	posts := specPOSTs(t)
	if len(posts) < 20 {
		t.Fatalf("the spec lists only %d POST operations", len(posts))
	}
	for _, route := range posts {
		t.Run(strings.TrimPrefix(route, "POST "), func(t *testing.T) {
			if reason, ok := readOnlyPOSTs[route]; ok {
				t.Skip(reason)
			}
			mk, ok := postCases[route]
			if !ok {
				t.Fatalf("no idempotency case for %s: add one to postCases", route)
			}
			f := newFixture(t)
			w := f.buildWorld()
			pc := mk(t, f, w)
			const key = "idem-walk-1"
			before := f.snapshot()
			first := f.do("POST", pc.path, f.admin, pc.body, "Idempotency-Key", key)
			if first.status != http.StatusOK {
				t.Fatalf("first request: %d %s", first.status, first.body)
			}
			if first.header.Get("Idempotent-Replayed") != "" {
				t.Fatal("the first request is marked as a replay")
			}
			afterFirst := f.snapshot()
			if afterFirst == before {
				t.Fatal("the first request changed nothing: the test proves nothing")
			}
			again := f.do("POST", pc.path, f.admin, pc.body, "Idempotency-Key", key)
			if again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("repeat: %d replayed=%q %s", again.status, again.header.Get("Idempotent-Replayed"), again.body)
			}
			if !bytes.Equal(withoutSecret(t, first.body), withoutSecret(t, again.body)) {
				t.Fatalf("repeat answered\n%s\nnot\n%s", again.body, first.body)
			}
			if f.snapshot() != afterFirst {
				t.Fatal("the repeat changed the ledger")
			}
			otherPath := pc.otherPath
			if otherPath == "" {
				otherPath = pc.path
			}
			if otherPath == pc.path && pc.otherBody == pc.body {
				t.Fatal("the other request is the same request")
			}
			other := f.do("POST", otherPath, f.admin, pc.otherBody, "Idempotency-Key", key)
			if d := other.errorDetail(t); other.status != http.StatusConflict || d.Code != "idempotency_key_reused" || d.Param != "idempotency_key" {
				t.Fatalf("same key, other request: %d %s", other.status, other.body)
			}
			if f.snapshot() != afterFirst {
				t.Fatal("the refused request changed the ledger")
			}
			// Without the key the other request is a request like any other.
			if r := f.do("POST", otherPath, f.admin, pc.otherBody); r.status >= 500 {
				t.Fatalf("other request without a key: %d %s", r.status, r.body)
			}
			f.verifyClean()
		})
	}
	for route := range postCases {
		if !slices.Contains(posts, route) {
			t.Errorf("postCases has %s, which the spec does not describe", route)
		}
	}
}
