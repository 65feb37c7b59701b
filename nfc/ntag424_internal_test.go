package nfc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// scriptCard replays a published trace: each command must be the expected one, and
// gets the recorded answer.
type scriptCard struct {
	t     *testing.T
	steps [][2]string
	i     int
}

func (c *scriptCard) ATR() []byte  { return nil }
func (c *scriptCard) Close() error { return nil }
func (c *scriptCard) Transmit(apdu []byte) ([]byte, error) {
	c.t.Helper()
	if c.i >= len(c.steps) {
		c.t.Fatalf("unexpected command %X after the trace ended", apdu)
	}
	s := c.steps[c.i]
	c.i++
	if got := strings.ToUpper(hex.EncodeToString(apdu)); got != s[0] {
		c.t.Fatalf("command %d = %s\nwant        %s", c.i, got, s[0])
	}
	return unhex(c.t, s[1]), nil
}

func scriptTag(t *testing.T, steps ...[2]string) (*Tag, *scriptCard) {
	c := &scriptCard{t: t, steps: steps}
	t.Cleanup(func() {
		if c.i != len(c.steps) {
			t.Errorf("trace used %d of %d exchanges", c.i, len(c.steps))
		}
	})
	return &Tag{Type: TypeNTAG424DNA, Name: "NTAG 424 DNA", family: familyType4, link: &link{card: c, p: personalityNone}}, c
}

func withRndA(t *testing.T, rndA string) {
	old := rand424
	rand424 = bytes.NewReader(unhex(t, rndA))
	t.Cleanup(func() { rand424 = old })
}

// AN12196 AuthenticateEV2First traces: given the published RndA, the reader sends the
// published bytes and derives the published TI and session keys.
func TestAuthenticateEV2FirstVectors(t *testing.T) {
	cases := []struct {
		name, tag1, rndA, reader2, tag2, ti, enc, mac string
	}{
		{"AN12196 6.6", "A04C124213C186F22399D33AC2A30215", "13C5DB8A5930439FC3DEF9A4C675360F",
			"35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D",
			"3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663",
			"9D00C4DF", "1309C877509E5A215007FF0ED19CA564", "4C6626F5E72EA694202139295C7A7FC7"},
		{"AN12196 6.10", "B875CEB0E66A6C5CD00898DC371F92D1", "B98F4C50CF1C2E084FD150E33992B048",
			"FF0306E47DFBC50087C4D8A78E88E62DE1E8BE457AA477C707E2F0874916A8B1",
			"0CC9A8094A8EEA683ECAAC5C7BF20584206D0608D477110FC6B3D5D3F65C3A6A",
			"7614281A", "7A93D6571E4B180FCA6AC90C9A7488D4", "FC4AF159B62E549B5812394CAB1918CC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			withRndA(t, c.rndA)
			tag, _ := scriptTag(t,
				[2]string{"9071000002000000", c.tag1 + "91AF"},
				[2]string{"90AF000020" + c.reader2 + "00", c.tag2 + "9100"})
			if err := tag.AuthenticateEV2First(0, zeroKey); err != nil {
				t.Fatal(err)
			}
			s := tag.sess
			if hex.EncodeToString(s.ti[:]) != strings.ToLower(c.ti) || s.ctr != 0 ||
				!bytes.Equal(s.enc, unhex(t, c.enc)) || !bytes.Equal(s.mac, unhex(t, c.mac)) {
				t.Fatalf("session TI %X ctr %d ENC %X MAC %X; want %s 0 %s %s", s.ti, s.ctr, s.enc, s.mac, c.ti, c.enc, c.mac)
			}
		})
	}
}

func TestAuthenticateRefusedByTheTag(t *testing.T) {
	withRndA(t, "13C5DB8A5930439FC3DEF9A4C675360F")
	tag, _ := scriptTag(t,
		[2]string{"9071000002000000", "A04C124213C186F22399D33AC2A30215" + "91AF"},
		[2]string{"90AF000020" + "35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D" + "00", "91AE"})
	err := tag.AuthenticateEV2First(0, zeroKey)
	var se *DNAStatusError
	if !errors.As(err, &se) || se.Status != St424AuthError || !errors.Is(err, ErrAuth) || !errors.Is(err, ErrDevice) {
		t.Fatalf("error = %v, want a 91 AE status matching ErrAuth", err)
	}
	if _, ok := tag.Authenticated(); ok {
		t.Fatal("a refused authentication left a session")
	}
}

// A tag answering with another RndA′ has not proven it holds the key.
func TestAuthenticateChecksTheTagsProof(t *testing.T) {
	withRndA(t, "13C5DB8A5930439FC3DEF9A4C675360F")
	tag, _ := scriptTag(t,
		[2]string{"9071000002000000", "A04C124213C186F22399D33AC2A30215" + "91AF"},
		[2]string{"90AF000020" + "35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D" + "00",
			"3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120664" + "9100"})
	if err := tag.AuthenticateEV2First(0, zeroKey); !errors.Is(err, ErrAuth) {
		t.Fatalf("error = %v, want ErrAuth", err)
	}
}

func session(t *testing.T, tag *Tag, ti, enc, mac string) {
	tag.sess = &dnaSession{ti: [4]byte(unhex(t, ti)), enc: unhex(t, enc), mac: unhex(t, mac)}
}

// AN12196 secure messaging traces.
func TestSecureMessagingVectors(t *testing.T) {
	t.Run("CommMode.MAC GetFileSettings", func(t *testing.T) {
		tag, _ := scriptTag(t, [2]string{"90F5000009026597A457C8CD442C00",
			"0040EEEE000100D1FE001F00004400004400002000006A0000" + "2A474282E7A47986" + "9100"})
		session(t, tag, "7A21085E", strings.Repeat("00", 16), "8248134A386E86EB7FAF54A52E536CB6")
		fs, err := tag.GetFileSettings(2)
		if err != nil {
			t.Fatal(err)
		}
		want := SDMSettings{MirrorUID: true, MirrorReadCounter: true, EncFileData: true,
			CtrRetKey: AccessFree, MetaReadKey: 0, FileReadKey: 0,
			PICCDataOffset: 0x1F, MACInputOffset: 0x44, ENCOffset: 0x44, ENCLength: 0x20, MACOffset: 0x6A}
		if fs.SDM == nil || *fs.SDM != want || fs.Size != 256 || fs.CommMode != CommPlain ||
			fs.Access != (AccessRights{Read: 0xE, Write: 0xE, ReadWrite: 0xE, Change: 0xE}) {
			t.Fatalf("settings = %+v, SDM %+v", fs, fs.SDM)
		}
		if tag.sess.ctr != 1 {
			t.Errorf("command counter = %d, want 1", tag.sess.ctr)
		}
		if got := fs.Bytes(); !bytes.Equal(got, unhex(t, "0040EEEE000100D1FE001F00004400004400002000006A0000")) {
			t.Errorf("settings re-encode as %X", got)
		}
	})
	t.Run("CommMode.MAC answer with a bad MAC", func(t *testing.T) {
		tag, _ := scriptTag(t, [2]string{"90F5000009026597A457C8CD442C00",
			"0040EEEE000100D1FE001F00004400004400002000006A0000" + "2A474282E7A47987" + "9100"})
		session(t, tag, "7A21085E", strings.Repeat("00", 16), "8248134A386E86EB7FAF54A52E536CB6")
		if _, err := tag.GetFileSettings(2); !errors.Is(err, ErrSecureChannel) {
			t.Fatalf("error = %v, want ErrSecureChannel", err)
		}
	})
	t.Run("CommMode.FULL WriteData, file 02", func(t *testing.T) {
		data := unhex(t, "0051D1014D550463686F6F73652E75726C2E636F6D2F6E7461673432343F653D303030303030303030303030303030303030303030303030303030303030303026633D30303030303030303030303030303030")
		data = append(data, make([]byte, 0x80-len(data))...)
		tag, _ := scriptTag(t, [2]string{"908D00009F" + "02000000800000" + "421C73A27D827658AF481FDFF20A5025B559D0E3AA21E58D347F343CFFC768BFE596C706BC00F2176781D4B0242642A0FF5A42C461AAF894D9A1284B8C76BCFA658ACD40555D362E08DB15CF421B51283F9064BCBE20E96CAE545B407C9D651A3315B27373772E5DA2367D2064AE054AF996C6F1F669170FA88CE8C4E3A4A7BBBEF0FD971FF532C3A802AF745660F2B4D1D9A8499661EBF3" + "00",
			"FC222E5F7A542452" + "9100"})
		session(t, tag, "9D00C4DF", "1309C877509E5A215007FF0ED19CA564", "4C6626F5E72EA694202139295C7A7FC7")
		if err := tag.WriteData(2, 0, data, CommFull); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CommMode.FULL WriteData, file 03", func(t *testing.T) {
		tag, _ := scriptTag(t, [2]string{"908D00001F" + "030000000A0000" + "6B5E6804909962FC4E3FF5522CF0F8436C0C53315B9C73AA" + "00",
			"C26D236E4A7C046D" + "9100"})
		session(t, tag, "7614281A", "7A93D6571E4B180FCA6AC90C9A7488D4", "FC4AF159B62E549B5812394CAB1918CC")
		if err := tag.WriteData(3, 0, unhex(t, "0102030405060708090A"), CommFull); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CommMode.FULL GetCardUID", func(t *testing.T) {
		tag, _ := scriptTag(t, [2]string{"90510000088E2C155ADDA99BE300",
			"70756055688505B52A5E26E59E329CD6" + "595F672298EA41B7" + "9100"})
		session(t, tag, "DF055522", "2B4D963C014DC36F24F69A50A394F875", "379D32130CE61705DD5FD8C36B95D764")
		uid, err := tag.GetCardUID()
		if err != nil || !bytes.Equal(uid, unhex(t, "04958CAA5C5E80")) {
			t.Fatalf("GetCardUID = %X, %v; want 04958CAA5C5E80", uid, err)
		}
	})
}

func TestJamCRC32(t *testing.T) {
	// IEEE CRC32 of "123456789" is CBF43926; JAMCRC is its complement 340BC6D9, sent LE.
	if got := jamCRC32([]byte("123456789")); !bytes.Equal(got, []byte{0xD9, 0xC6, 0x0B, 0x34}) {
		t.Fatalf("JAMCRC = %X", got)
	}
}

func TestPad80(t *testing.T) {
	for n := 0; n <= 33; n++ {
		b := bytes.Repeat([]byte{0xAB}, n)
		p := pad80(b)
		if len(p)%16 != 0 || len(p) <= n || len(p) > n+16 {
			t.Fatalf("pad80(%d bytes) = %d bytes", n, len(p))
		}
		if back, ok := unpad80(p); !ok || !bytes.Equal(back, b) {
			t.Fatalf("unpad80(pad80(%d bytes)) = %X, %v", n, back, ok)
		}
	}
	if _, ok := unpad80(make([]byte, 16)); ok {
		t.Fatal("unpad80 accepted a block without 80")
	}
}
