package api

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/backend"
	"go.yaml.in/yaml/v3"

	"github.com/tagpay/tagpay/store"
)

// specDoc is the part of api/openapi.yaml the tests read.
type specDoc struct {
	Paths map[string]map[string]any `yaml:"paths"`
}

func loadSpec(t *testing.T) (specDoc, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc specDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	return doc, tree
}

// TestSpecMatchesRoutes fails when a route is served but not described, or described
// but not served.
func TestSpecMatchesRoutes(t *testing.T) {
	doc, _ := loadSpec(t)
	var described []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete", "head", "options":
				described = append(described, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(described)
	served := tableRoutes()
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is served but openapi.yaml does not describe it", r)
		}
	}
	for _, r := range described {
		if !slices.Contains(served, r) {
			t.Errorf("openapi.yaml describes %s, which the server does not serve", r)
		}
	}
}

// TestSpecReferencesResolve fails on a $ref to a component that is not there.
func TestSpecReferencesResolve(t *testing.T) {
	_, tree := loadSpec(t)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var node any = tree
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := node.(map[string]any)
					node = m[part]
				}
				if node == nil {
					t.Errorf("$ref %s points at nothing", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(tree)
}

// notReached are codes the source analysis finds on a route that the route cannot give,
// each with the reason; the analysis follows every path, possible or not.
var notReached = map[string]string{
	"POST /v1/tokens/{token}/delete token_already_*": "a deleted token is refused as token_deleted before the already-in-state check",
	"GET /readyz ledger_busy":                        "readyz answers every failure of the store's ping as ledger_unavailable",
	"GET /readyz ledger_closed":                      "readyz answers every failure of the store's ping as ledger_unavailable",
	"GET /readyz ledger_corrupt":                     "readyz answers every failure of the store's ping as ledger_unavailable",
	"GET /readyz ledger_read_failed":                 "readyz answers every failure of the store's ping as ledger_unavailable",
	"GET /readyz ledger_unwritable":                  "readyz answers every failure of the store's ping as ledger_unavailable",
	"GET /readyz ledger_write_failed":                "readyz answers every failure of the store's ping as ledger_unavailable",
	"GET /readyz schema_version":                     "readyz answers every failure of the store's ping as ledger_unavailable",
	"POST /v1/keys/{id}/rotate invalid_role":         "the new key takes the old key's role, checked when that was made",
	"POST /v1/keys/{id}/rotate missing_account":      "the new key takes the old key's account, checked when that was made",
	"POST /v1/keys/{id}/rotate invalid_account":      "the new key takes the old key's account, checked when that was made",
	"POST /v1/keys/{id}/rotate account_not_found":    "the new key takes the old key's account, and accounts are never deleted",
	"POST /v1/keys/{id}/rotate path_mismatch":        "the key's id is in the path only: the body has no field for it",
}

// middlewareNotReached are codes of the shared middleware that only a damaged ledger
// could give: a key index entry without its key record.
var middlewareNotReached = []string{"key_not_found"}

// wantedErrors are the error codes (with "*" for a part made at run time) each served
// route can answer with, by status, as read from the source.
func wantedErrors(t *testing.T) map[string]map[int][]string {
	t.Helper()
	a := loadCodeAnalysis(t)
	served := NewServer(&backend.Local{}, ServerOptions{}).Routes()
	byRoute := a.routeCodes(t)
	all, postOnly := a.middlewareCodes(t)
	for k := range all {
		if slices.Contains(middlewareNotReached, k.code) {
			delete(all, k)
		}
	}
	out := map[string]map[int][]string{}
	for _, route := range served {
		codes := map[codeStatus]bool{}
		for k := range byRoute[route] {
			codes[k] = true
		}
		if _, public := byRoute[route]; !public {
			t.Fatalf("no handler found for %s", route)
		}
		if !a.isPublic(t, route) {
			for k := range all {
				codes[k] = true
			}
			if strings.HasPrefix(route, "POST ") {
				for k := range postOnly {
					codes[k] = true
				}
			}
		} else {
			codes[codeStatus{"internal", 500}] = true // a handler's panic
		}
		m := map[int][]string{}
		for _, cs := range sortedCodes(codes) {
			if _, skip := notReached[route+" "+cs.code]; skip {
				continue
			}
			m[cs.status] = append(m[cs.status], cs.code)
		}
		out[route] = m
	}
	return out
}

// documentedErrors reads, for each operation, the codes its error responses list in
// x-error-codes, by status.
func documentedErrors(t *testing.T) map[string]map[int][]string {
	t.Helper()
	_, tree := loadSpec(t)
	components, _ := tree["components"].(map[string]any)
	shared, _ := components["responses"].(map[string]any)
	paths, _ := tree["paths"].(map[string]any)
	out := map[string]map[int][]string{}
	for p, ops := range paths {
		for method, op := range ops.(map[string]any) {
			route := strings.ToUpper(method) + " " + p
			o, _ := op.(map[string]any)
			if s, _ := o["summary"].(string); s == "" {
				t.Errorf("%s has no summary", route)
			}
			responses, _ := o["responses"].(map[string]any)
			m := map[int][]string{}
			for status, resp := range responses {
				r, _ := resp.(map[string]any)
				if ref, ok := r["$ref"].(string); ok {
					r, _ = shared[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
				}
				code, err := strconv.Atoi(status)
				if err != nil {
					t.Errorf("%s: response %q is not a status; every error is listed by its status", route, status)
					continue
				}
				if code < 400 {
					continue
				}
				content, _ := r["content"].(map[string]any)
				js, _ := content["application/json"].(map[string]any)
				schema, _ := js["schema"].(map[string]any)
				if schema["$ref"] != "#/components/schemas/Error" {
					t.Errorf("%s %d: the body is not the Error schema", route, code)
				}
				list, _ := r["x-error-codes"].([]any)
				if len(list) == 0 {
					t.Errorf("%s %d lists no x-error-codes", route, code)
				}
				for _, c := range list {
					m[code] = append(m[code], fmt.Sprint(c))
				}
			}
			out[route] = m
		}
	}
	return out
}

// codeMatches reports whether the concrete code matches pattern, where "*" stands for
// any run of lower-case letters and underscores.
func codeMatches(pattern, code string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, `[a-z_]+`) + "$"
	return regexp.MustCompile(re).MatchString(code)
}

// TestSpecDocumentsEveryErrorCode holds the error codes of each operation in
// openapi.yaml to those the source can answer that route with: each code the code can
// give is documented under its status, and each documented code can be given.
func TestSpecDocumentsEveryErrorCode(t *testing.T) {
	want, got := wantedErrors(t), documentedErrors(t)
	for route, statuses := range want {
		doc, ok := got[route]
		if !ok {
			continue // TestSpecMatchesRoutes reports it
		}
		for status, codes := range statuses {
			for _, c := range codes {
				if !slices.ContainsFunc(doc[status], func(d string) bool { return codeMatches(c, d) }) {
					t.Errorf("%s can answer %d %s; openapi.yaml does not say so", route, status, c)
				}
			}
		}
		for status, codes := range doc {
			for _, d := range codes {
				if !slices.ContainsFunc(statuses[status], func(c string) bool { return codeMatches(c, d) }) {
					t.Errorf("openapi.yaml says %s answers %d %s; the code never does", route, status, d)
				}
			}
		}
	}
}

// concretePath fills the path parameters of a spec path with names that are well formed
// but name nothing: an id of the kind the collection holds, or a plain name.
func concretePath(p string) string {
	prefixes := map[string]string{"accounts": store.PrefixAccount, "orders": store.PrefixOrder, "cards": store.PrefixCard, "keys": store.PrefixKey, "devices": store.PrefixDevice}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if !strings.HasPrefix(part, "{") {
			continue
		}
		if prefix, ok := prefixes[parts[i-1]]; ok {
			parts[i] = store.NewID(prefix)
		} else {
			parts[i] = "nosuchname"
		}
	}
	return strings.Join(parts, "/")
}

// TestObservedErrorsAreDocumented sends each operation of the spec requests that go
// wrong in the common ways (no key, a key of each role, bodies and headers that are
// refused, names of nothing) and fails on any answer the spec does not list for it.
func TestObservedErrorsAreDocumented(t *testing.T) {
	f := newFixture(t)
	f.server.authFailures = nil // the probes fail to authenticate far more than a client would
	w := f.buildWorld()
	payer, merchant := f.key(store.RolePayer, w.payer1.ID), f.key(store.RoleMerchant, w.merchant1.ID)
	doc := documentedErrors(t)
	spec, _ := loadSpec(t)
	seen := 0
	for p, ops := range spec.Paths {
		for method := range ops {
			route := strings.ToUpper(method) + " " + p
			path := concretePath(p)
			type probe struct {
				token, body string
				headers     []string
			}
			probes := []probe{{token: ""}, {token: "tpk_" + strings.Repeat("x", 52)}, {token: f.admin}, {token: payer}, {token: merchant}, {token: f.admin + "?"}}
			if method == "post" {
				probes = append(probes,
					probe{token: f.admin, body: `{"zzz":1}`},
					probe{token: f.admin, body: `{"reason":"a","reason":"b"}`},
					probe{token: f.admin, body: `{"Reason":"a"}`},
					probe{token: f.admin, body: `{`},
					probe{token: f.admin, body: `[]`},
					probe{token: f.admin, body: `{}`, headers: []string{"Idempotency-Key", "has space"}},
					probe{token: f.admin, body: `{}`, headers: []string{"Content-Type", "text/plain"}},
					probe{token: f.admin, body: `{"x":"` + strings.Repeat("y", DefaultMaxBodyBytes) + `"}`},
				)
			} else {
				probes = append(probes, probe{token: f.admin, headers: []string{"Zzz", ""}})
			}
			for _, pr := range probes {
				target := path
				if pr.headers != nil && pr.headers[0] == "Zzz" {
					target += "?zzz=1"
					pr.headers = nil
				}
				r := f.do(strings.ToUpper(method), target, pr.token, pr.body, pr.headers...)
				if r.status < 400 {
					continue
				}
				seen++
				d := r.errorDetail(t)
				if !slices.Contains(doc[route][r.status], d.Code) {
					t.Errorf("%s %s answered %d %s, which openapi.yaml does not list for %s", strings.ToUpper(method), target, r.status, d.Code, route)
				}
			}
		}
	}
	if seen < 200 {
		t.Fatalf("only %d error answers seen: the probes prove little", seen)
	}
}

// schemaProblems lists where v, a decoded JSON answer, strays from schema: a field the
// schema does not declare, a value of another type, a value outside an enum.
func schemaProblems(tree map[string]any, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		var node any = tree
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := node.(map[string]any)
			node = m[part]
		}
		target, _ := node.(map[string]any)
		return schemaProblems(tree, target, v, at)
	}
	var out []string
	if all, ok := schema["allOf"].([]any); ok {
		// The object may hold the fields of any part; each part checks its own.
		merged := map[string]any{"type": "object", "properties": map[string]any{}}
		for _, part := range all {
			p, _ := part.(map[string]any)
			for p["$ref"] != nil {
				ref := p["$ref"].(string)
				var node any = tree
				for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := node.(map[string]any)
					node = m[seg]
				}
				p, _ = node.(map[string]any)
			}
			props, _ := p["properties"].(map[string]any)
			for k, s := range props {
				merged["properties"].(map[string]any)[k] = s
			}
		}
		return schemaProblems(tree, merged, v, at)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		out = append(out, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, not an object", at, v))
		}
		props, _ := schema["properties"].(map[string]any)
		for k, fv := range m {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == nil || schema["additionalProperties"] == false {
					out = append(out, fmt.Sprintf("%s.%s is not in the spec", at, k))
				}
				continue
			}
			out = append(out, schemaProblems(tree, ps, fv, at+"."+k)...)
		}
	case "array":
		items, _ := schema["items"].(map[string]any)
		a, ok := v.([]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, not an array", at, v))
		}
		for i, e := range a {
			out = append(out, schemaProblems(tree, items, e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			out = append(out, fmt.Sprintf("%s: %T, not a string", at, v))
		}
	case "integer":
		if n, ok := v.(float64); !ok || n != float64(int64(n)) {
			out = append(out, fmt.Sprintf("%s: %v, not an integer", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			out = append(out, fmt.Sprintf("%s: %T, not a boolean", at, v))
		}
	}
	return out
}

// okSchema is the schema of an operation's 200 answer.
func okSchema(t *testing.T, tree map[string]any, route string) map[string]any {
	t.Helper()
	method, p, _ := strings.Cut(route, " ")
	paths, _ := tree["paths"].(map[string]any)
	ops, _ := paths[p].(map[string]any)
	op, _ := ops[strings.ToLower(method)].(map[string]any)
	responses, _ := op["responses"].(map[string]any)
	r, _ := responses["200"].(map[string]any)
	if ref, ok := r["$ref"].(string); ok {
		shared := tree["components"].(map[string]any)["responses"].(map[string]any)
		r, _ = shared[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
	}
	content, _ := r["content"].(map[string]any)
	js, _ := content["application/json"].(map[string]any)
	schema, _ := js["schema"].(map[string]any)
	if schema == nil {
		t.Fatalf("%s documents no JSON 200 answer", route)
	}
	return schema
}

// TestAnswersMatchTheSpec holds the 200 answer of every operation, as a real server gives
// it on a ledger with something of everything, to the schema the spec documents for it.
func TestAnswersMatchTheSpec(t *testing.T) {
	_, tree := loadSpec(t)
	posts := specPOSTs(t)
	check := func(t *testing.T, route string, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		for _, p := range schemaProblems(tree, okSchema(t, tree, route), v, "body") {
			t.Errorf("%s: %s", route, p)
		}
	}
	for _, route := range posts {
		mk, ok := postCases[route]
		if !ok {
			continue // TestEveryPOSTInTheSpecIsIdempotent reports it
		}
		f := newFixture(t)
		w := f.buildWorld()
		pc := mk(t, f, w)
		r := f.do("POST", pc.path, f.admin, pc.body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", route, r.status, r.body)
		}
		check(t, route, r.body)
	}
	f := newFixture(t)
	w := f.buildWorld()
	gets := map[string]string{
		"GET /healthz": "/healthz", "GET /readyz": "/readyz", "GET /v1/accounts": "/v1/accounts", "GET /v1/accounts/{id}": "/v1/accounts/" + w.payer1.ID,
		"GET /v1/journal": "/v1/journal", "GET /v1/audit": "/v1/audit?limit=5", "GET /v1/verify": "/v1/verify", "GET /v1/tags": "/v1/tags",
		"GET /v1/tags/{tag}": "/v1/tags/" + w.tag1.ID, "GET /v1/orders": "/v1/orders", "GET /v1/orders/{id}": "/v1/orders/" + w.paid1.ID,
		"GET /v1/logins": "/v1/logins", "GET /v1/cards": "/v1/cards", "GET /v1/cards/{id}": "/v1/cards/" + w.card1.ID,
		"GET /v1/tokens": "/v1/tokens", "GET /v1/tokens/{token}": "/v1/tokens/" + w.token2.ID, "GET /v1/keys": "/v1/keys",
	}
	for route, path := range eventGets(t, f) {
		gets[route] = path
	}
	doc, _ := loadSpec(t)
	for p, ops := range doc.Paths {
		if _, ok := ops["get"]; !ok {
			continue
		}
		route := "GET " + p
		path, ok := gets[route]
		if !ok {
			t.Errorf("no request for %s: add one to gets", route)
			continue
		}
		if path == "" {
			continue // not JSON: events_test.go checks the stream
		}
		r := f.do("GET", path, f.admin, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", route, r.status, r.body)
		}
		if string(r.body) == "[]\n" && route != "GET /v1/verify" { // a clean ledger has no violation
			t.Errorf("%s answered an empty list: the check proves nothing", route)
		}
		check(t, route, r.body)
	}
}
