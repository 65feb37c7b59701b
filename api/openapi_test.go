package api

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

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
	served := NewServer(&Local{}, ServerOptions{}).Routes()
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
}

// middlewareNotReached are codes of the shared middleware that only a damaged ledger
// could give: a key index entry without its key record.
var middlewareNotReached = []string{"key_not_found"}

// wantedErrors are the error codes (with "*" for a part made at run time) each served
// route can answer with, by status, as read from the source.
func wantedErrors(t *testing.T) map[string]map[int][]string {
	t.Helper()
	a := loadCodeAnalysis(t)
	served := NewServer(&Local{}, ServerOptions{}).Routes()
	byRoute := a.routeCodes(t, served)
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
		if !a.isPublic(route) {
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
