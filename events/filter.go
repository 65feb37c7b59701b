package events

import (
	"slices"
	"strings"

	"github.com/tagpay/tagpay/store"
)

// TypeFilter is a set of event types: exact types ("tag.revoked"), all types of one
// object ("order.*"), or every type ("*"). The zero value matches every type.
type TypeFilter struct {
	exact    []string
	prefixes []string // "order." for "order.*"
	all      bool
}

// maxFilterLen bounds a filter's text; every type at once is far shorter.
const maxFilterLen = 1024

// ParseTypes reads a comma-separated list of types and patterns, as --type and the type
// query parameter take them. Empty means every type. A name that is no event type, and
// a pattern that matches none, are refused, so a typo never silently matches nothing.
func ParseTypes(s string) (TypeFilter, error) {
	var f TypeFilter
	if len(s) > maxFilterLen {
		return TypeFilter{}, invalidType("the type filter is %d bytes long; at most %d", len(s), maxFilterLen)
	}
	if strings.TrimSpace(s) == "" {
		f.all = true
		return f, nil
	}
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		switch {
		case p == "":
			return TypeFilter{}, invalidType("the type filter %q has an empty entry", clip(s))
		case p == "*":
			f.all = true
		case strings.HasSuffix(p, ".*"):
			prefix := strings.TrimSuffix(p, "*")
			if !slices.ContainsFunc(Types, func(t string) bool { return strings.HasPrefix(t, prefix) }) {
				return TypeFilter{}, invalidType("%q matches no event type; types are %s", clip(p), strings.Join(Types, ", "))
			}
			if !slices.Contains(f.prefixes, prefix) {
				f.prefixes = append(f.prefixes, prefix)
			}
		case slices.Contains(Types, p):
			if !slices.Contains(f.exact, p) {
				f.exact = append(f.exact, p)
			}
		default:
			return TypeFilter{}, invalidType("%q is not an event type; types are %s", clip(p), strings.Join(Types, ", "))
		}
	}
	return f, nil
}

// Match reports whether typ passes the filter.
func (f TypeFilter) Match(typ string) bool {
	if f.all || (len(f.exact) == 0 && len(f.prefixes) == 0) {
		return true
	}
	if slices.Contains(f.exact, typ) {
		return true
	}
	return slices.ContainsFunc(f.prefixes, func(p string) bool { return strings.HasPrefix(typ, p) })
}

// String is the filter in the form ParseTypes reads; "" for every type.
func (f TypeFilter) String() string {
	if f.all || (len(f.exact) == 0 && len(f.prefixes) == 0) {
		return ""
	}
	parts := slices.Clone(f.exact)
	for _, p := range f.prefixes {
		parts = append(parts, p+"*")
	}
	return strings.Join(parts, ",")
}

func invalidType(format string, args ...any) error {
	return store.Errorf(store.KindInvalid, "invalid_type", format, args...).WithParam("type")
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
