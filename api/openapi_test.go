package api

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/backend"
	"go.yaml.in/yaml/v3"
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
	served := NewServer(&backend.Local{}, ServerOptions{}).Routes()
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
