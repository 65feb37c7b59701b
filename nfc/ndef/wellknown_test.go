package ndef

import (
	"strings"
	"testing"
)

func TestNewURIChoosesLongestPrefix(t *testing.T) {
	tests := []struct {
		uri      string
		wantCode byte
		wantRest string
	}{
		{"http://nfcpy.org", 0x03, "nfcpy.org"},
		{"http://www.example.com", 0x01, "example.com"},
		{"https://www.example.com/x", 0x02, "example.com/x"},
		{"https://pay.example/t/1", 0x04, "pay.example/t/1"},
		{"smtp://nfcpy.org", 0x00, "smtp://nfcpy.org"},
		{"ftp://anonymous:anonymous@host", 0x07, "host"},
		{"ftp://ftp.host", 0x08, "host"},
		{"ftp://host", 0x0D, "host"},
		{"urn:epc:id:sgtin", 0x1E, "sgtin"},
		{"urn:epc:other", 0x22, "other"},
		{"urn:nfc:wkt:T", 0x23, "wkt:T"},
		{"urn:isbn:1", 0x13, "isbn:1"},
		{"", 0x00, ""},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			r := NewURI(tt.uri)
			if r.TNF != TNFWellKnown || string(r.Type) != "U" {
				t.Fatalf("NewURI record TNF %d type %q, want well-known U", r.TNF, r.Type)
			}
			if r.Payload[0] != tt.wantCode || string(r.Payload[1:]) != tt.wantRest {
				t.Fatalf("NewURI payload = %02X %q, want %02X %q", r.Payload[0], r.Payload[1:], tt.wantCode, tt.wantRest)
			}
			back, err := ParseURI(r)
			if err != nil || back != tt.uri {
				t.Fatalf("ParseURI = %q, %v; want %q", back, err, tt.uri)
			}
		})
	}
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		name    string
		rec     Record
		want    string
		wantErr string
	}{
		{"prefix 0x03", Record{TNF: TNFWellKnown, Type: []byte("U"), Payload: unhex(t, "036E666370792E6F7267")}, "http://nfcpy.org", ""},
		{"code 0x23 is the last defined", Record{TNF: TNFWellKnown, Type: []byte("U"), Payload: unhex(t, "2378")}, "urn:nfc:x", ""},
		{"code 0x24 undefined", Record{TNF: TNFWellKnown, Type: []byte("U"), Payload: unhex(t, "246E66637079")}, "", "URI identifier code 0x24 is not defined"},
		{"empty payload", Record{TNF: TNFWellKnown, Type: []byte("U")}, "", "URI payload is empty"},
		{"bad utf-8", Record{TNF: TNFWellKnown, Type: []byte("U"), Payload: unhex(t, "00FF")}, "", "not valid UTF-8"},
		{"not a URI record", NewMIME("text/plain", []byte("x")), "", "not a URI record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURI(tt.rec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURI = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseURI = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseText(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Text
		wantErr string
	}{
		{"utf-8", "02656E54455854", Text{Lang: "en", Text: "TEXT"}, ""},
		{"utf-16 little-endian BOM", "82656EFFFE480065006C006C006F00", Text{Lang: "en", Text: "Hello", UTF16: true}, ""},
		{"utf-16 big-endian BOM", "82656EFEFF00480069", Text{Lang: "en", Text: "Hi", UTF16: true}, ""},
		{"utf-16 without BOM is big-endian", "82656E00480069", Text{Lang: "en", Text: "Hi", UTF16: true}, ""},
		{"utf-16 surrogate pair", "82656ED83DDE00", Text{Lang: "en", Text: "\U0001F600", UTF16: true}, ""},
		{"empty text", "02656E", Text{Lang: "en"}, ""},
		{"no status byte", "", Text{}, "no status byte"},
		{"language runs past payload", "05656E", Text{}, "language code of 5 bytes runs past"},
		{"odd utf-16", "82656E0048FF", Text{}, "odd length"},
		{"bad utf-8", "02656EC3", Text{}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseText(Record{TNF: TNFWellKnown, Type: []byte("T"), Payload: unhex(t, tt.payload)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseText = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseText = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestNewText(t *testing.T) {
	r, err := NewText("TEXT", "en")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(Message{r})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b, unhex(t, "D101075402656E54455854"); string(got) != string(want) {
		t.Fatalf("NewText encodes as %X, want %X", got, want)
	}
	for _, lang := range []string{"", strings.Repeat("x", 64), "e n", "é"} {
		if _, err := NewText("x", lang); err == nil {
			t.Errorf("NewText with language %q: no error", lang)
		}
	}
	if _, err := NewText("\xff", "en"); err == nil {
		t.Errorf("NewText with invalid UTF-8: no error")
	}
}

func TestSmartPoster(t *testing.T) {
	r, err := NewSmartPoster("https://pay.example/t/9", Text{Lang: "en", Text: "Pay"}, Text{Lang: "de", Text: "Zahlen"})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ParseSmartPoster(r)
	if err != nil {
		t.Fatal(err)
	}
	if sp.URI != "https://pay.example/t/9" || len(sp.Titles) != 2 || sp.Titles[1] != (Text{Lang: "de", Text: "Zahlen"}) || len(sp.Records) != 3 {
		t.Fatalf("ParseSmartPoster = %+v", sp)
	}

	twoURIs, _ := Encode(Message{NewURI("a"), NewURI("b")})
	noURI, _ := Encode(Message{NewUnknown(nil)})
	badURI, _ := Encode(Message{{TNF: TNFWellKnown, Type: []byte("U"), Payload: []byte{0x30}}})
	tests := []struct {
		name    string
		payload []byte
		wantErr string
	}{
		{"two URIs", twoURIs, "exactly one URI record, this one has 2"},
		{"no URI", noURI, "this one has 0"},
		{"bad URI", badURI, "smart poster record 0: ndef: URI identifier code 0x30"},
		{"bad nested message", []byte{0x11}, "smart poster content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSmartPoster(Record{TNF: TNFWellKnown, Type: []byte("Sp"), Payload: tt.payload})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseSmartPoster error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFirstURI(t *testing.T) {
	sp, err := NewSmartPoster("https://sp.example/", Text{Lang: "en", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := NewText("hi", "en")
	tests := []struct {
		name   string
		msg    Message
		want   string
		wantOK bool
	}{
		{"uri record", Message{text, NewURI("https://a.example/")}, "https://a.example/", true},
		{"smart poster", Message{text, sp, NewURI("https://b.example/")}, "https://sp.example/", true},
		{"skips a broken uri", Message{{TNF: TNFWellKnown, Type: []byte("U"), Payload: []byte{0x99}}, NewURI("tel:1")}, "tel:1", true},
		{"none", Message{text, NewAbsoluteURI("https://c.example/", nil)}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FirstURI(tt.msg)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("FirstURI = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTNFName(t *testing.T) {
	want := []string{"empty", "well_known", "media", "absolute_uri", "external", "unknown", "unchanged", "reserved"}
	for i, w := range want {
		if got := TNFName(byte(i)); got != w {
			t.Errorf("TNFName(%d) = %q, want %q", i, got, w)
		}
	}
}
