package orders

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestParseContent(t *testing.T) {
	tests := []struct {
		raw  string
		want Content
	}{
		{"https://tagpay.example/t/0123456789?s=00112233aabbccdd",
			Content{Kind: TagStatic, BaseURL: "https://tagpay.example", Ref: "0123456789", MAC: "00112233aabbccdd"}},
		{"http://localhost:8080/shop/pay/t/ABCDEFGHJK?s=ffffffffffffffff",
			Content{Kind: TagStatic, BaseURL: "http://localhost:8080/shop/pay", Ref: "ABCDEFGHJK", MAC: "ffffffffffffffff"}},
		{"https://tagpay.example/s/Z?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086",
			Content{Kind: TagSUN, BaseURL: "https://tagpay.example", Ref: "Z", Query: "e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"}},
		{"https://tagpay.example/s/Z?uid=041E3C8A2D6B80&ctr=000006&cmac=4B00064004B0B3D3",
			Content{Kind: TagSUN, BaseURL: "https://tagpay.example", Ref: "Z", Query: "uid=041E3C8A2D6B80&ctr=000006&cmac=4B00064004B0B3D3"}},
	}
	for _, tt := range tests {
		got, err := ParseContent(tt.raw)
		if err != nil {
			t.Errorf("ParseContent(%q): %v", tt.raw, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseContent(%q) = %+v, want %+v", tt.raw, got, tt.want)
		}
		if got.String() != tt.raw {
			t.Errorf("%q rebuilds as %q", tt.raw, got.String())
		}
	}
}

func TestParseContentRejects(t *testing.T) {
	tests := []struct{ raw, words string }{
		{"", "empty"},
		{strings.Repeat("a", 2000), "at most 1024"},
		{"https://tagpay.example/t/0123456789?s=00112233aabbccdd#x", "fragment"},
		{"https://tagpay.example/t/0123456789?s=00112233aabbccdd\n", "printable"},
		{"https://tagpay.example/t/0123456789", "no query"},
		{"https://tagpay.example/t/0123456789?", "no query"},
		{"https://tagpay.example/x/0123456789?s=00112233aabbccdd", "/t/<ref>"},
		{"https://tagpay.example/t/?s=00112233aabbccdd", "1 to 32"},
		{"https://tagpay.example/t/0123456789IL?s=00112233aabbccdd", "Crockford"},
		{"https://tagpay.example/t/abc?s=00112233aabbccdd", "Crockford"},
		{"https://tagpay.example/t/0123456789?s=00112233AABBCCDD", "lower-case hex"},
		{"https://tagpay.example/t/0123456789?s=00112233aabbcc", "16 lower-case hex"},
		{"https://tagpay.example/t/0123456789?s=00112233aabbccdd&x=1", "16 lower-case hex"},
		{"https://tagpay.example/t/0123456789?m=00112233aabbccdd", "exactly one parameter"},
		{"ftp://tagpay.example/t/0123456789?s=00112233aabbccdd", "https://"},
		{"https:///t/0123456789?s=00112233aabbccdd", "no host"},
		{"https://u:p@tagpay.example/t/0123456789?s=00112233aabbccdd", "credentials"},
		{"/t/0123456789?s=00112233aabbccdd", "is empty"},
		{"https://tagpay.example/s/Z?e=EF96&e=EF96", "given twice"},
		{"https://tagpay.example/s/Z?e=ef96", "upper-case hex"},
		{"https://tagpay.example/s/Z?e=", "upper-case hex"},
		{"https://tagpay.example/s/Z?e", "not one of"},
		{"https://tagpay.example/s/Z?e=AB&&c=CD", "not one of"},
	}
	for _, tt := range tests {
		_, err := ParseContent(tt.raw)
		if err == nil {
			t.Errorf("ParseContent(%q) accepted it", tt.raw)
			continue
		}
		if store.KindOf(err) != store.KindDeclined || store.CodeOf(err) != "content_malformed" || !strings.Contains(err.Error(), tt.words) {
			t.Errorf("ParseContent(%q) = %v (%s/%s), want content_malformed saying %q", tt.raw, err, store.KindOf(err), store.CodeOf(err), tt.words)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	for _, ok := range []string{"https://tagpay.example", "http://127.0.0.1:8080", "https://shop.test/a/b"} {
		if err := checkBaseURL(ok); err != nil {
			t.Errorf("checkBaseURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "tagpay.example", "https://", "https://x.test/", "https://x.test?", "https://x.test#a", "https://x.test/a b", "HTTPS://x.test", `https://x.test/a\b`} {
		if err := checkBaseURL(bad); store.CodeOf(err) != "invalid_base_url" {
			t.Errorf("checkBaseURL(%q) = %v, want invalid_base_url", bad, err)
		}
	}
}

func TestTagMACBindsFields(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	base := tagMAC(key, "04AB0000", "CDEF")
	for _, other := range []string{
		tagMAC(key, "04AB0001", "CDEF"),
		tagMAC(key, "04AB0000", "CDEG"),
		tagMAC([]byte("another key of thirty-two bytes!"), "04AB0000", "CDEF"),
	} {
		if other == base {
			t.Errorf("MAC %s does not depend on every input", base)
		}
	}
	if len(base) != macHexLen || !isLowerHex(base) {
		t.Errorf("MAC %q is not %d lower-case hex digits", base, macHexLen)
	}
}

// FuzzParseContent: ParseContent never panics, whatever it accepts it rebuilds exactly
// (so two texts never pass as one content), and it accepts every content the
// registration code can generate.
func FuzzParseContent(f *testing.F) {
	f.Add("https://tagpay.example/t/0123456789?s=00112233aabbccdd", "0123456789", []byte{4, 1, 2, 3, 4, 5, 6})
	f.Add("https://tagpay.example/s/ABCDEFGHJK?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086", "ABCDEFGHJK", []byte{1, 2, 3, 4})
	f.Add("https://x/t/A?s=0", "A", []byte{})
	f.Add("http://[::1]:80/a/s/Z?uid=04&ctr=01&c=FF", "Z", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add("%", "%", []byte("x"))
	key := []byte("fuzzing key, thirty-two bytes ok")
	f.Fuzz(func(t *testing.T, raw, refSeed string, uid []byte) {
		if c, err := ParseContent(raw); err == nil {
			if c.String() != raw {
				t.Fatalf("%q parses to %+v, which rebuilds as %q", raw, c, c.String())
			}
		} else if store.KindOf(err) != store.KindDeclined || store.CodeOf(err) != "content_malformed" {
			t.Fatalf("%q: error %v is not content_malformed", raw, err)
		}

		// Generate a content the way registration does, from a reference drawn from the
		// seed, and parse it back.
		ref := make([]byte, 0, refLen)
		for i := 0; i < len(refSeed) && len(ref) < refLen; i++ {
			ref = append(ref, refAlphabet[refSeed[i]&31])
		}
		if len(ref) == 0 || len(uid) == 0 {
			return
		}
		uid = uid[:min(len(uid), 10)] // UIDs are at most 10 bytes
		uidHex := strings.ToUpper(hex.EncodeToString(uid))
		for _, kind := range []TagKind{TagStatic, TagSUN} {
			want := Content{Kind: kind, BaseURL: DefaultBaseURL, Ref: string(ref)}
			if kind == TagStatic {
				want.MAC = tagMAC(key, uidHex, want.Ref)
			} else {
				want.Query = "uid=" + uidHex + "&ctr=000001&c=0011223344556677"
			}
			got, err := ParseContent(want.String())
			if err != nil || got != want {
				t.Fatalf("generated content %q parses to %+v, %v", want.String(), got, err)
			}
		}
	})
}
