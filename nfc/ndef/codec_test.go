package ndef

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// The valid messages of the shared vectors file (NDEF 1.0, nfcpy ndeflib).
func TestDecodeVectors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want Message
	}{
		{"one empty record", "D00000", Message{{TNF: TNFEmpty}}},
		{"text record", "D101075402656E54455854",
			Message{{TNF: TNFWellKnown, Type: []byte("T"), Payload: unhex(t, "02656E54455854")}}},
		{"uri http://", "D1010A55036E666370792E6F7267",
			Message{{TNF: TNFWellKnown, Type: []byte("U"), Payload: unhex(t, "036E666370792E6F7267")}}},
		{"uri no prefix", "D101115500736D74703A2F2F6E666370792E6F7267",
			Message{{TNF: TNFWellKnown, Type: []byte("U"), Payload: []byte("\x00smtp://nfcpy.org")}}},
		{"three chunks joined", "B20A03746578742F706C61696E616263" + "360003646566" + "5600026768",
			Message{{TNF: TNFMedia, Type: []byte("text/plain"), Payload: []byte("abcdefgh")}}},
		{"long record with id", "C9 01 00000003 02 54 6964 02656E",
			Message{{TNF: TNFWellKnown, Type: []byte("T"), ID: []byte("id"), Payload: unhex(t, "02656E")}}},
		{"two records", "91 01 02 55 0041" + "55 00 00",
			Message{{TNF: TNFWellKnown, Type: []byte("U"), Payload: []byte("\x00A")}, {TNF: TNFUnknown}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(unhex(t, tt.hex))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !equalMessages(got, tt.want) {
				t.Fatalf("Decode = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalMessages(a, b Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].TNF != b[i].TNF || !bytes.Equal(a[i].Type, b[i].Type) ||
			!bytes.Equal(a[i].ID, b[i].ID) || !bytes.Equal(a[i].Payload, b[i].Payload) {
			return false
		}
	}
	return true
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		wantErr string
	}{
		{"MB not set on first", "150000160000560000", "record 0: MB is not set"},
		{"ME not set on last", "950000160000160000", "record 2: ME is not set on the last record"},
		{"ends inside TYPE", "19010101", "record 0: TYPE field runs past the end"},
		{"well-known without type", "110000", "record 0: TNF 1 (well_known) needs a TYPE"},
		{"ends inside PAYLOAD_LENGTH of a long record", "C1010000", "record 0: PAYLOAD_LENGTH field runs past"},
		{"ends inside ID_LENGTH", "D90100", "record 0: ID_LENGTH field runs past"},
		{"ends inside ID", "D90100025561", "record 0: ID field runs past"},
		{"ends inside PAYLOAD", "D1010555", "record 0: PAYLOAD field runs past"},
		{"huge long payload", "C101FFFFFFFF55", "record 0: PAYLOAD field runs past"},
		{"bytes after ME", "D0000000", "record 0: 1 bytes follow the record marked ME"},
		{"MB on second record", "900000D00000", "record 1: MB is set on a record that is not the first"},
		{"empty record with type", "D00100 55", "record 0: an empty record (TNF 0) must have no type"},
		{"empty record with payload", "D0000100", "empty record (TNF 0) must have no type, id or payload"},
		{"unknown with type", "D5010055", "record 0: TNF 5 (unknown) must have no TYPE"},
		{"reserved TNF", "D70000", "record 0: TNF 7 is reserved"},
		{"unchanged outside chunk", "D60000", "record 0: TNF 6 (unchanged) outside a chunked record"},
		{"chunk with wrong TNF", "B2010161 61" + "550000", "record 1: chunk of record 0 must have TNF 6 (unchanged), has 5"},
		{"chunk with a type", "B2010161 61" + "56010061", "record 1: TNF 6 (unchanged) must have no TYPE"},
		{"chunk with an id", "B2010161 61" + "5E00000161", "record 1: TNF 6 (unchanged) must have no ID"},
		{"ME on a middle chunk", "B2010161 61" + "760000", "record 1: ME is set on a chunk"},
		{"empty record chunked", "B00000" + "560000", "record 0: an empty record (TNF 0) cannot be chunked"},
		{"chunked media without type", "B20000" + "560000", "record 0: TNF 2 (media) needs a TYPE"},
		{"chunk never ends", "B2010161 61" + "360000", "record 1: ME is not set on the last record"},
		{"empty input", "", "message is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(unhex(t, tt.hex))
			if err == nil {
				t.Fatalf("Decode = %+v, want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Decode error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeEmptyIsErrEmpty(t *testing.T) {
	if _, err := Decode(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Decode(nil) error = %v, want ErrEmpty", err)
	}
}

func TestDecodeChunkDoesNotAliasInput(t *testing.T) {
	in := unhex(t, "B20A03746578742F706C61696E616263"+"360003646566"+"5600026768")
	orig := append([]byte(nil), in...)
	m, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	m[0].Payload[0] = 'X'
	if !bytes.Equal(in, orig) {
		t.Fatalf("changing a joined payload changed the input buffer")
	}
}

func TestEncodeShortestForm(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"empty record", Message{{TNF: TNFEmpty}}, "D00000"},
		{"text uses SR", Message{{TNF: TNFWellKnown, Type: []byte("T"), Payload: unhex(t, "02656E54455854")}},
			"D101075402656E54455854"},
		{"IL only with an id", Message{{TNF: TNFWellKnown, Type: []byte("T"), ID: []byte("id"), Payload: unhex(t, "02656E")}},
			"D9010302546964 02656E"},
		{"MB on first, ME on last", Message{{TNF: TNFUnknown}, {TNF: TNFUnknown}, {TNF: TNFUnknown}},
			"950000 150000 550000"},
		{"255-byte payload stays short", Message{{TNF: TNFUnknown, Payload: bytes.Repeat([]byte{0xAB}, 255)}},
			"D500FF" + strings.Repeat("AB", 255)},
		{"256-byte payload goes long", Message{{TNF: TNFUnknown, Payload: bytes.Repeat([]byte{0xAB}, 256)}},
			"C50000000100" + strings.Repeat("AB", 256)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("Encode = %X, want %X", got, want)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name    string
		msg     Message
		wantErr string
	}{
		{"no records", nil, "no records"},
		{"well-known without type", Message{{TNF: TNFWellKnown}}, "record 0: TNF 1 (well_known) needs a TYPE"},
		{"empty with payload", Message{{TNF: TNFEmpty}, {TNF: TNFEmpty, Payload: []byte{1}}}, "record 1: an empty record"},
		{"unchanged", Message{{TNF: TNFUnchanged}}, "TNF 6 (unchanged) is only valid"},
		{"reserved", Message{{TNF: TNFReserved, Type: []byte("x")}}, "TNF 7 is reserved"},
		{"unknown with type", Message{{TNF: TNFUnknown, Type: []byte("x")}}, "must have no TYPE"},
		{"type too long", Message{NewMIME(strings.Repeat("a", 256), nil)}, "TYPE is 256 bytes"},
		{"id too long", Message{{TNF: TNFUnknown, ID: make([]byte, 256)}}, "ID is 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.msg)
			if err == nil {
				t.Fatalf("Encode = %X, want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Encode error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	text, err := NewText("Hello, wörld", "de")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := NewSmartPoster("https://pay.example/t/abc", Text{Lang: "en", Text: "Pay here"})
	if err != nil {
		t.Fatal(err)
	}
	messages := map[string]Message{
		"uri":          {NewURI("https://pay.example/t/AB12?s=0011")},
		"text and uri": {text, NewURI("tel:+15551234")},
		"smart poster": {sp},
		"mime with id": {{TNF: TNFMedia, Type: []byte("application/json"), ID: []byte("#1"), Payload: []byte(`{"a":1}`)}},
		"external":     {NewExternal("example.com:pay", []byte{1, 2, 3})},
		"absolute uri": {NewAbsoluteURI("https://example.com/schema", []byte("x"))},
		"unknown":      {NewUnknown(bytes.Repeat([]byte{7}, 1000))},
		"empty":        {{TNF: TNFEmpty}},
	}
	for name, m := range messages {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%X): %v", b, err)
			}
			if !equalMessages(got, m) {
				t.Fatalf("round trip = %+v, want %+v", got, m)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	sp, err := NewSmartPoster("https://pay.example/t/1", Text{Lang: "en", Text: "Coffee"})
	if err != nil {
		t.Fatal(err)
	}
	text, err := NewText("TEXT", "en")
	if err != nil {
		t.Fatal(err)
	}
	m := Message{
		NewURI("http://nfcpy.org"),
		text,
		sp,
		{TNF: TNFWellKnown, Type: []byte("U"), ID: []byte{0x01, 0xFF}, Payload: unhex(t, "246E66637079")},
		NewAbsoluteURI("urn:x", nil),
	}
	got := Describe(m)
	want := []RecordInfo{
		{Index: 0, TNF: "well_known", Type: "U", PayloadHex: "036E666370792E6F7267", URI: "http://nfcpy.org"},
		{Index: 1, TNF: "well_known", Type: "T", PayloadHex: "02656E54455854", Text: "TEXT", Lang: "en"},
		{Index: 2, TNF: "well_known", Type: "Sp", PayloadHex: strings.ToUpper(hex.EncodeToString(sp.Payload)),
			URI: "https://pay.example/t/1", Text: "Coffee", Lang: "en"},
		{Index: 3, TNF: "well_known", Type: "U", ID: "01FF", PayloadHex: "246E66637079",
			Error: "ndef: URI identifier code 0x24 is not defined (0x00 to 0x23 are)"},
		{Index: 4, TNF: "absolute_uri", Type: "urn:x", URI: "urn:x"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Describe =\n%+v\nwant\n%+v", got, want)
	}
}
