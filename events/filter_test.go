package events

import (
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestParseTypes(t *testing.T) {
	for _, c := range []struct {
		in       string
		match    []string
		nomatch  []string
		canon    string
		wantCode string
	}{
		{in: "", match: Types, canon: ""},
		{in: "*", match: Types, canon: ""},
		{in: "order.paid", match: []string{"order.paid"}, nomatch: []string{"order.created", "tag.revoked"}, canon: "order.paid"},
		{in: " order.* , tag.revoked,order.*", match: []string{"order.paid", "order.refunded", "tag.revoked"}, nomatch: []string{"tag.registered", "account.funded"}, canon: "tag.revoked,order.*"},
		{in: "order.paid,*", match: Types, canon: ""},
		{in: "order.payed", wantCode: "invalid_type"},
		{in: "coffee.*", wantCode: "invalid_type"},
		{in: "order.paid,", wantCode: "invalid_type"},
		{in: "order", wantCode: "invalid_type"},
		{in: ".*", wantCode: "invalid_type"},
		{in: strings.Repeat("order.paid,", 200), wantCode: "invalid_type"},
	} {
		f, err := ParseTypes(c.in)
		if c.wantCode != "" {
			if store.CodeOf(err) != c.wantCode || store.KindOf(err) != store.KindInvalid {
				t.Errorf("%q: %v, want %s", c.in, err, c.wantCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		for _, m := range c.match {
			if !f.Match(m) {
				t.Errorf("%q does not match %s", c.in, m)
			}
		}
		for _, m := range c.nomatch {
			if f.Match(m) {
				t.Errorf("%q matches %s", c.in, m)
			}
		}
		if f.String() != c.canon {
			t.Errorf("%q reads back as %q, want %q", c.in, f.String(), c.canon)
		}
	}
}

// FuzzParseTypes: any text is refused with an invalid_type error or parsed into a filter
// that reads back into the same filter, matches only event types, and matches exactly
// what its parts name.
func FuzzParseTypes(f *testing.F) {
	for _, s := range []string{"", "*", "order.*,tag.revoked", "order.paid, order.refunded", "token.*", "x.*", ",", "order.paid,,", "\x00.*", "tag.*,*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseTypes(s)
		if err != nil {
			if store.CodeOf(err) != "invalid_type" || store.KindOf(err) != store.KindInvalid {
				t.Fatalf("%q: error without the invalid_type code: %v", s, err)
			}
			return
		}
		again, err := ParseTypes(flt.String())
		if err != nil {
			t.Fatalf("%q reads back as %q, which is refused: %v", s, flt.String(), err)
		}
		for _, typ := range Types {
			if flt.Match(typ) != again.Match(typ) {
				t.Fatalf("%q and its reading %q differ on %s", s, flt.String(), typ)
			}
			// A type passes exactly when some part names it, by name, pattern or *.
			named := false
			for _, p := range strings.Split(s, ",") {
				p = strings.TrimSpace(p)
				named = named || p == typ || p == "*" || (strings.HasSuffix(p, ".*") && strings.HasPrefix(typ, strings.TrimSuffix(p, "*")))
			}
			if strings.TrimSpace(s) == "" {
				named = true
			}
			if flt.Match(typ) != named {
				t.Fatalf("%q: Match(%s) = %v, but its parts say %v", s, typ, flt.Match(typ), named)
			}
		}
	})
}

func TestFollowerLooksBackWithoutRepeating(t *testing.T) {
	start := store.NewID(store.PrefixEvent)
	f := NewFollower(start)
	a, b := store.NewID(store.PrefixEvent), store.NewID(store.PrefixEvent)
	if !f.Fresh(Event{ID: b}) || f.Fresh(Event{ID: b}) {
		t.Fatal("an event is fresh once")
	}
	// a was made before b but committed after it was seen: the next look still finds it.
	if f.From() >= a {
		t.Fatalf("the next look starts at %s, after %s", f.From(), a)
	}
	if !f.Fresh(Event{ID: a}) {
		t.Fatal("a late commit is lost")
	}
	if f.Fresh(Event{ID: start}) || f.From() < start {
		t.Fatal("the follower went back before where it started")
	}
}
