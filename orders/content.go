package orders

import (
	"net/url"
	"strings"

	"github.com/tagpay/tagpay/store"
)

// Tag content formats:
//
//	static: <base_url>/t/<tagref>?s=<mac>
//	SUN:    <base_url>/s/<tagref>?<parameters the NTAG 424 DNA appends on each tap>
//
// Content comes from a tag, which is outside input. A content that is not a tagpay tag
// URL at all is rejected as KindDeclined with code content_malformed: the tag, not the
// caller's request, is what is wrong, so it fails like any other rejected tag (exit 5).
// The parser is strict on purpose (exact case, one form per value): the only content
// that passes the ledger's checks is the exact text it generated, so any edit fails.

const (
	maxContentLen = 1024
	refLen        = 10 // characters of a generated tag reference
	maxRefLen     = 32
	macHexLen     = 16 // static tag MAC: 8 bytes of HMAC-SHA256 in lower-case hex
	staticPath    = "/t/"
	sunPath       = "/s/"
)

// refAlphabet is upper-case Crockford base32: no I, L, O or U to misread on a label.
const refAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Content is a tag URL taken apart, before any check against the ledger.
type Content struct {
	Kind    TagKind `json:"kind"`
	BaseURL string  `json:"base_url"` // the configured base, without /t/<ref>
	Ref     string  `json:"ref"`
	MAC     string  `json:"mac,omitempty"`   // static: the s parameter
	Query   string  `json:"query,omitempty"` // SUN: what the tag appended after "?"
}

// Base is the content without its query: what a SUN tag is configured with.
func (c Content) Base() string {
	if c.Kind == TagSUN {
		return c.BaseURL + sunPath + c.Ref
	}
	return c.BaseURL + staticPath + c.Ref
}

// String rebuilds the content URL.
func (c Content) String() string {
	if c.Kind == TagSUN {
		return c.Base() + "?" + c.Query
	}
	return c.Base() + "?s=" + c.MAC
}

func malformed(format string, args ...any) error {
	return store.Errorf(store.KindDeclined, "content_malformed", "content is not a tagpay tag URL: "+format, args...).WithParam("content")
}

// ParseContent takes a tag URL apart. It checks form only; whether the tag exists and the
// content belongs to it is ParsePaymentRequest's business.
func ParseContent(raw string) (Content, error) {
	var c Content
	if raw == "" {
		return c, malformed("content is empty")
	}
	if len(raw) > maxContentLen {
		return c, malformed("%d characters, at most %d", len(raw), maxContentLen)
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b <= ' ' || b >= 0x7F {
			return c, malformed("byte 0x%02X at offset %d is not a printable ASCII character", b, i)
		}
	}
	if strings.Contains(raw, "#") {
		return c, malformed("a fragment (#) is not allowed")
	}
	base, query, hasQuery := strings.Cut(raw, "?")
	if !hasQuery || query == "" {
		return c, malformed("no query: a static tag URL ends in ?s=<mac>, a SUN URL carries the tag's parameters")
	}
	cut := strings.LastIndex(base, "/")
	if cut < 0 {
		return c, malformed("no tag reference in the path")
	}
	c.Ref = base[cut+1:]
	prefix := base[:cut+1]
	switch {
	case strings.HasSuffix(prefix, staticPath):
		c.Kind = TagStatic
		c.BaseURL = strings.TrimSuffix(prefix, staticPath)
	case strings.HasSuffix(prefix, sunPath):
		c.Kind = TagSUN
		c.BaseURL = strings.TrimSuffix(prefix, sunPath)
	default:
		return Content{}, malformed("the path must end in /t/<ref> (static tag) or /s/<ref> (SUN tag)")
	}
	if err := checkRef(c.Ref); err != nil {
		return Content{}, err
	}
	if why := baseURLProblem(c.BaseURL); why != "" {
		return Content{}, malformed("the base URL %q %s", c.BaseURL, why)
	}
	if c.Kind == TagStatic {
		mac, ok := strings.CutPrefix(query, "s=")
		if !ok {
			return Content{}, malformed("a static tag URL has exactly one parameter, s=<mac>")
		}
		if len(mac) != macHexLen || !isLowerHex(mac) {
			return Content{}, malformed("the MAC (s) must be %d lower-case hex digits", macHexLen)
		}
		c.MAC = mac
	} else {
		if err := checkSUNQuery(query); err != nil {
			return Content{}, err
		}
		c.Query = query
	}
	return c, nil
}

// sunParams are the parameter names an NTAG 424 DNA may be configured to mirror.
var sunParams = map[string]bool{"e": true, "picc_data": true, "enc": true, "c": true, "cmac": true, "uid": true, "ctr": true}

// checkSUNQuery accepts name=value pairs of known SUN parameters, each once, with values
// in upper-case hex as the tag mirrors them. Whether they form a SUN message that
// verifies is the SUN check's business.
func checkSUNQuery(query string) error {
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(query, "&") {
		name, value, ok := strings.Cut(pair, "=")
		switch {
		case !ok || !sunParams[name]:
			return malformed("SUN parameter %q is not one of e, picc_data, enc, c, cmac, uid, ctr", truncate(name, 16))
		case seen[name]:
			return malformed("SUN parameter %s is given twice", name)
		case value == "" || !isUpperHex(value):
			return malformed("SUN parameter %s must be upper-case hex, as the tag mirrors it", name)
		}
		seen[name] = true
	}
	return nil
}

func isUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < '0' || b > '9') && (b < 'A' || b > 'F') {
			return false
		}
	}
	return true
}

// truncate shortens outside text quoted in an error message.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func checkRef(ref string) error {
	if ref == "" || len(ref) > maxRefLen {
		return malformed("the tag reference must be 1 to %d characters", maxRefLen)
	}
	for i := 0; i < len(ref); i++ {
		if strings.IndexByte(refAlphabet, ref[i]) < 0 {
			return malformed("the tag reference %q has a character outside upper-case Crockford base32", ref)
		}
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return false
		}
	}
	return true
}

// checkBaseURL accepts an absolute http(s) URL in canonical form, without query,
// fragment, credentials or trailing slash, so that the content built from it parses back
// to the same base.
func checkBaseURL(base string) error {
	if why := baseURLProblem(base); why != "" {
		return store.Errorf(store.KindInvalid, "invalid_base_url", "base URL %q %s", base, why).WithParam("base_url")
	}
	return nil
}

func baseURLProblem(base string) string {
	if base == "" {
		return "is empty"
	}
	if len(base) > maxContentLen/2 {
		return "is too long"
	}
	for i := 0; i < len(base); i++ {
		if b := base[i]; b <= ' ' || b >= 0x7F {
			return "has a character that is not printable ASCII"
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		return "does not parse"
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "must start with https:// or http://"
	case u.Host == "":
		return "has no host"
	case u.User != nil:
		return "must not carry credentials"
	case strings.ContainsAny(base, "?#"):
		return "must not have a query or fragment"
	case strings.HasSuffix(base, "/"):
		return "must not end in /"
	case u.String() != base:
		return "is not in canonical form (write it as " + u.String() + ")"
	}
	return ""
}
