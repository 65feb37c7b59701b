package api

import (
	"slices"
	"testing"

	"github.com/tagpay/tagpay/backend"
)

// tableRoutes are the rows of the route table as "METHOD /path" patterns, sorted.
func tableRoutes() []string {
	var out []string
	for _, rt := range (&Server{}).routeTable() {
		out = append(out, rt.method+" "+rt.path)
	}
	slices.Sort(out)
	return out
}

// TestServerServesTheTable fails when a row of the route table is not registered, or a
// route is registered that the table does not list.
func TestServerServesTheTable(t *testing.T) {
	table := tableRoutes()
	if len(table) < 40 {
		t.Fatalf("the route table has only %d rows", len(table))
	}
	if got := NewServer(&backend.Local{}, ServerOptions{}).Routes(); !slices.Equal(got, table) {
		t.Fatalf("the server registers\n%v\nthe table lists\n%v", got, table)
	}
}

// TestPublicRoutesAreProbes keeps the routes that need no key to the two probes: any
// other route would answer without authentication.
func TestPublicRoutesAreProbes(t *testing.T) {
	var open []string
	for _, rt := range (&Server{}).routeTable() {
		if rt.access == public {
			open = append(open, rt.method+" "+rt.path)
		}
	}
	if want := []string{"GET /healthz", "GET /readyz"}; !slices.Equal(open, want) {
		t.Fatalf("public routes %v, want %v", open, want)
	}
}
