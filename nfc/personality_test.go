package nfc

import (
	"bytes"
	"errors"
	"testing"
)

func TestACR122Unwrap(t *testing.T) {
	cases := []struct {
		name    string
		reply   string
		data    string
		spoken  bool
		tagFail bool
	}{
		{"data", "D54300 0004040201001103 9000", "0004040201001103", true, false},
		{"4-bit ACK", "D543000A9000", "0A", true, false},
		{"tag silent", "D543019000", "", true, true},
		{"not an ACR122", "6A81", "", false, false},
		{"failed pseudo-APDU", "6300", "", false, false},
		{"other PN532 answer", "D5419000", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := acr122Unwrap(mustHex(t, c.reply))
			var te *tagError
			switch {
			case !c.spoken:
				if !errors.Is(err, errNotSpoken) {
					t.Errorf("err = %v, want errNotSpoken", err)
				}
			case c.tagFail:
				if !errors.As(err, &te) || !errors.Is(err, ErrDevice) {
					t.Errorf("err = %v, want a tag error", err)
				}
			case err != nil || !bytes.Equal(data, mustHex(t, c.data)):
				t.Errorf("got % X, %v; want %s", data, err, c.data)
			}
		})
	}
}

func TestPart3Unwrap(t *testing.T) {
	cases := []struct {
		name    string
		reply   string
		data    string
		spoken  bool
		tagFail bool
	}{
		{"data", "C003009000 96020000 9708 0004040201001103 9000", "0004040201001103", true, false},
		{"4-bit NAK passed on", "C003009000 920104 96020000 970100 9000", "00", true, false},
		{"long data object", "C003009000 96020000 978180" + string(bytes.Repeat([]byte("AB"), 0x80)) + "9000", string(bytes.Repeat([]byte("AB"), 0x80)), true, false},
		{"tag silent", "C003016401 6401", "", true, true},
		{"ICC error status", "C003009000 96020100 970100 9000", "", true, true},
		{"no data object", "C003009000 96020000 9000", "", true, true},
		{"truncated object", "C003009000 9708 0004 9000", "", true, true},
		{"not a Part 3 reader", "6A81", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := part3Unwrap(mustHex(t, c.reply))
			var te *tagError
			switch {
			case !c.spoken:
				if !errors.Is(err, errNotSpoken) {
					t.Errorf("err = %v, want errNotSpoken", err)
				}
			case c.tagFail:
				if !errors.As(err, &te) {
					t.Errorf("err = %v, want a tag error", err)
				}
			case err != nil || !bytes.Equal(data, mustHex(t, c.data)):
				t.Errorf("got % X, %v; want %s", data, err, c.data)
			}
		})
	}
}

func TestPart3WrapRoundTrip(t *testing.T) {
	for _, n := range []int{1, 3, 0x7F, 0x80, 0xF0} {
		cmd := bytes.Repeat([]byte{0x3A}, n)
		apdu := part3Wrap(cmd)
		if !bytes.Equal(apdu[:4], []byte{0xFF, 0xC2, 0x00, 0x01}) || int(apdu[4]) != len(apdu)-6 || apdu[len(apdu)-1] != 0 {
			t.Fatalf("%d-byte command: APDU % X", n, apdu)
		}
		tag, val, rest, err := readBER(apdu[5 : len(apdu)-1])
		if err != nil || tag != 0x95 || !bytes.Equal(val, cmd) || len(rest) != 0 {
			t.Errorf("%d-byte command: object %02X % X rest % X, %v", n, tag, val, rest, err)
		}
	}
}

func TestStatusErrors(t *testing.T) {
	cases := []struct {
		sw          uint16
		unsupported bool
		fault       bool
		says        string
	}{
		{swFailed, false, true, "63 00"},
		{swNotSupported, true, false, "6A 81"},
		{0x6982, false, true, "69 82"},
	}
	for _, c := range cases {
		err := error(&statusError{op: "read page 4", sw: c.sw})
		if !errors.Is(err, ErrDevice) || errors.Is(err, ErrUnsupported) != c.unsupported || errors.Is(err, ErrReaderFault) != c.fault {
			t.Errorf("SW %04X: matches unsupported %v, fault %v", c.sw, errors.Is(err, ErrUnsupported), errors.Is(err, ErrReaderFault))
		}
		if !bytes.Contains([]byte(err.Error()), []byte(c.says)) || !bytes.Contains([]byte(err.Error()), []byte("read page 4")) {
			t.Errorf("SW %04X: message %q", c.sw, err)
		}
	}
}

// scripted is a card answering from a fixed list of APDU/reply pairs.
type scripted struct {
	t     *testing.T
	steps [][2]string
}

func (s *scripted) ATR() []byte  { return nil }
func (s *scripted) Close() error { return nil }
func (s *scripted) Transmit(apdu []byte) ([]byte, error) {
	s.t.Helper()
	if len(s.steps) == 0 {
		s.t.Fatalf("unexpected APDU % X", apdu)
	}
	step := s.steps[0]
	s.steps = s.steps[1:]
	if !bytes.Equal(apdu, mustHex(s.t, step[0])) {
		s.t.Fatalf("APDU % X, want %s", apdu, step[0])
	}
	return mustHex(s.t, step[1]), nil
}

func TestProbe(t *testing.T) {
	cases := []struct {
		name    string
		steps   [][2]string
		want    string
		version string
	}{
		{"ACR122 answers GET_VERSION", [][2]string{
			{"FF000000 03 D44260", "D54300 0004040201001103 9000"},
		}, "acr122", "0004040201001103"},
		{"Part 3 after the ACR122 wrapper is refused", [][2]string{
			{"FF000000 03 D44260", "6A81"},
			{"FFC20000 02 8100", "C003009000 9000"},
			{"FFC20001 03 950160 00", "C003009000 96020000 9708 0004040201000F03 9000"},
		}, "part3", "0004040201000F03"},
		{"neither: plain storage-card reader", [][2]string{
			{"FF000000 03 D44260", "6A81"},
			{"FFC20000 02 8100", "6A81"},
		}, "none", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			card := &scripted{t: t, steps: c.steps}
			l, v, err := probe(card, cmdGetVersion)
			if err != nil {
				t.Fatal(err)
			}
			if l.p.Name != c.want || !bytes.Equal(v, mustHex(t, c.version)) {
				t.Errorf("personality %q, version % X", l.p.Name, v)
			}
			if len(card.steps) != 0 {
				t.Errorf("%d scripted APDUs not sent", len(card.steps))
			}
		})
	}
}
