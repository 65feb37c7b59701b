package nfc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var zeroKey = make([]byte, 16)

// AN12196 (shared vectors): every intermediate value of the all-zero-key example.
func TestSUNIntermediateValues(t *testing.T) {
	uid, ctr, err := decryptPICCData(zeroKey, unhex(t, "EF963FF7828658A599F3041510671E88"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(uid, unhex(t, "04DE5F1EACC040")) || !bytes.Equal(ctr, unhex(t, "3D0000")) {
		t.Fatalf("PICC data = UID %X ctr %X, want 04DE5F1EACC040 3D0000", uid, ctr)
	}
	if sv2 := sessionVector(sv2Prefix, uid, ctr); !bytes.Equal(sv2, unhex(t, "3CC30001008004DE5F1EACC0403D0000")) {
		t.Fatalf("SV2 = %X", sv2)
	}
	key, err := sunMACKey(zeroKey, uid, ctr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, unhex(t, "3FB5F6E3A807A03D5E3570ACE393776F")) {
		t.Fatalf("session MAC key = %X", key)
	}
	full := CMAC(key, nil)
	if !bytes.Equal(full, unhex(t, "E194C7EE12D9F7EE8A65C8331B704386")) {
		t.Fatalf("full CMAC = %X", full)
	}
	if mac := truncateMAC(full); !bytes.Equal(mac, unhex(t, "94EED9EE65337086")) {
		t.Fatalf("truncated MAC = %X", mac)
	}
}

// AN12196 file data example: SDMENCFileData under the all-zero key.
func TestSUNFileDataDecryption(t *testing.T) {
	got, err := decryptFileData(zeroKey, unhex(t, "04958CAA5C5E80"), unhex(t, "010000"), unhex(t, "94592FDE69FA06E8E3B6CA686A22842B"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "xxxxxxxxxxxxxxxx" {
		t.Fatalf("file data = %q, want 16 x", got)
	}
}

func TestVerifySUN(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		wantUID   string
		wantCtr   uint32
		wantFile  string
		wantValid bool
	}{
		{"AN12196 e and c", "https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086",
			"04DE5F1EACC040", 61, "", true},
		{"long names, other order", "https://x.example/t?cmac=94EED9EE65337086&picc_data=EF963FF7828658A599F3041510671E88",
			"04DE5F1EACC040", 61, "", true},
		{"lower-case hex and other parameters", "https://x.example/t?v=1&e=ef963ff7828658a599f3041510671e88&c=94eed9ee65337086#frag",
			"04DE5F1EACC040", 61, "", true},
		{"wrong MAC", "https://x.example/?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337087",
			"04DE5F1EACC040", 61, "", false},
		{"plain mirroring", "https://x.example/?uid=041E3C8A2D6B80&ctr=000006&c=4B00064004B0B3D3",
			"041E3C8A2D6B80", 6, "", true},
		{"plain mirroring, wrong MAC", "https://x.example/?uid=041E3C8A2D6B80&ctr=000006&c=AB00064004B0B3AB",
			"041E3C8A2D6B80", 6, "", false},
		{"plain mirroring, counter replaced", "https://x.example/?uid=041E3C8A2D6B80&ctr=000007&c=4B00064004B0B3D3",
			"041E3C8A2D6B80", 7, "", false},
		// AN12196: with file data mirrored the MAC covers the text from the enc value to the MAC.
		{"AN12196 enc, MAC input from enc", "https://my424dna.com/?picc_data=FDE4AFA99B5C820A2C1BB0F1C792D0EB&enc=94592FDE69FA06E8E3B6CA686A22842B&cmac=C48B89C17A233B2C",
			"04958CAA5C5E80", 1, "xxxxxxxxxxxxxxxx", true},
		{"enc altered", "https://my424dna.com/?picc_data=FDE4AFA99B5C820A2C1BB0F1C792D0EB&enc=94592FDE69FA06E8E3B6CA686A22842C&cmac=C48B89C17A233B2C",
			"04958CAA5C5E80", 1, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifySUN(tt.url, zeroKey, zeroKey)
			if err != nil {
				t.Fatalf("VerifySUN: %v", err)
			}
			if !bytes.Equal(got.UID, unhex(t, tt.wantUID)) || got.Counter != tt.wantCtr || got.Valid != tt.wantValid {
				t.Fatalf("VerifySUN = UID %X ctr %d valid %v; want %s %d %v", got.UID, got.Counter, got.Valid, tt.wantUID, tt.wantCtr, tt.wantValid)
			}
			if tt.wantFile != "" && string(got.FileData) != tt.wantFile {
				t.Fatalf("file data = %q, want %q", got.FileData, tt.wantFile)
			}
		})
	}
}

// AN12196 MAC over a non-empty input (the enc value and "&cmac=").
func TestSUNMACWithInput(t *testing.T) {
	uid, ctr, err := decryptPICCData(zeroKey, unhex(t, "FD91EC264309878BE6345CBE53BADF40"))
	if err != nil {
		t.Fatal(err)
	}
	mac, err := sunMAC(zeroKey, uid, ctr, []byte("CEE9A53E3E463EF1F459635736738962&cmac="))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mac, unhex(t, "ECC1E7F6C6C73BF6")) {
		t.Fatalf("MAC = %X, want ECC1E7F6C6C73BF6", mac)
	}
	url := "https://my424dna.com/?picc_data=FD91EC264309878BE6345CBE53BADF40&enc=CEE9A53E3E463EF1F459635736738962&cmac=ECC1E7F6C6C73BF6"
	res, err := VerifySUN(url, zeroKey, zeroKey)
	if err != nil || !res.Valid {
		t.Fatalf("VerifySUN = %+v, %v; want valid", res, err)
	}
}

func TestVerifySUNWrongKeys(t *testing.T) {
	other := bytes.Repeat([]byte{1}, 16)
	url := "https://x.example/?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"
	res, err := VerifySUN(url, zeroKey, other)
	if err != nil || res.Valid {
		t.Fatalf("wrong file key: VerifySUN = %+v, %v; want not valid, no error", res, err)
	}
	if _, err := VerifySUN(url, other, zeroKey); err == nil || !strings.Contains(err.Error(), "wrong meta key") {
		t.Fatalf("wrong meta key: error = %v, want one naming the meta key", err)
	}
}

func TestVerifySUNErrors(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr string
		notSUN  bool
	}{
		{"static tag URL", "https://pay.example/t/AB12?s=00112233", "no MAC parameter (c or cmac)", true},
		{"no query", "https://pay.example/t/AB12", "no query", true},
		{"MAC only", "https://x.example/?c=94EED9EE65337086", "no PICC data parameter (e or picc_data, or uid with ctr)", true},
		{"uid without ctr", "https://x.example/?uid=041E3C8A2D6B80&c=4B00064004B0B3D3", "uid without ctr", true},
		{"ctr without uid", "https://x.example/?ctr=000006&c=4B00064004B0B3D3", "no PICC data parameter", true},
		{"short e", "https://x.example/?e=EF96&c=94EED9EE65337086", "PICC data must be 32 hex digits", false},
		{"bad hex MAC", "https://x.example/?e=EF963FF7828658A599F3041510671E88&c=94EED9EE6533708Z", "MAC is not hex", false},
		{"duplicate MAC", "https://x.example/?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086&cmac=94EED9EE65337086", "parameters c and cmac both given", false},
		{"e and uid", "https://x.example/?e=EF963FF7828658A599F3041510671E88&uid=041E3C8A2D6B80&ctr=000006&c=94EED9EE65337086", "both encrypted PICC data and plain", false},
		{"short ctr", "https://x.example/?uid=041E3C8A2D6B80&ctr=06&c=4B00064004B0B3D3", "ctr must be 6 hex digits", false},
		{"enc after MAC", "https://x.example/?e=FDE4AFA99B5C820A2C1BB0F1C792D0EB&cmac=C48B89C17A233B2C&enc=94592FDE69FA06E8E3B6CA686A22842B", "enc parameter must come before the MAC", false},
		{"enc of odd size", "https://x.example/?e=FDE4AFA99B5C820A2C1BB0F1C792D0EB&enc=9459&cmac=C48B89C17A233B2C", "enc must be a multiple of 32 hex digits", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := VerifySUN(tt.url, zeroKey, zeroKey)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("VerifySUN = %+v, %v; want error containing %q", res, err, tt.wantErr)
			}
			if errors.Is(err, ErrNotSUN) != tt.notSUN {
				t.Fatalf("errors.Is(err, ErrNotSUN) = %v, want %v", !tt.notSUN, tt.notSUN)
			}
		})
	}
	if _, err := VerifySUN("https://x.example/?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086", zeroKey, zeroKey[:8]); err == nil {
		t.Fatal("VerifySUN accepted an 8-byte file key")
	}
}

func TestBuildSUN(t *testing.T) {
	meta := unhex(t, "00112233445566778899AABBCCDDEEFF")
	file := unhex(t, "0F0E0D0C0B0A09080706050403020100")
	uid := unhex(t, "04DE5F1EACC040")
	tests := []struct {
		name   string
		base   string
		plain  bool
		prefix string
	}{
		{"encrypted", "https://pay.example/s", false, "https://pay.example/s?e="},
		{"plain", "https://pay.example/s", true, "https://pay.example/s?uid=04DE5F1EACC040&ctr=00BC61&c="},
		{"base with a query", "https://pay.example/s?t=1", false, "https://pay.example/s?t=1&e="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := BuildSUN(tt.base, uid, 48225, meta, file, tt.plain)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(u, tt.prefix) {
				t.Fatalf("BuildSUN = %q, want prefix %q", u, tt.prefix)
			}
			res, err := VerifySUN(u, meta, file)
			if err != nil || !res.Valid || !bytes.Equal(res.UID, uid) || res.Counter != 48225 {
				t.Fatalf("VerifySUN(BuildSUN) = %+v, %v", res, err)
			}
			if res, err := VerifySUN(u, meta, zeroKey); err != nil || res.Valid {
				t.Fatalf("VerifySUN with another file key = %+v, %v; want not valid", res, err)
			}
		})
	}
	// The AN12196 example, rebuilt: same UID, counter and keys give the same MAC.
	u, err := BuildSUN("https://ntag.nxp.com/424", unhex(t, "04DE5F1EACC040"), 61, zeroKey, zeroKey, false)
	if err != nil || !strings.HasSuffix(u, "&c=94EED9EE65337086") {
		t.Fatalf("BuildSUN = %q, %v; want MAC 94EED9EE65337086", u, err)
	}
	a, _ := BuildSUN("https://x", uid, 1, meta, file, false)
	b, _ := BuildSUN("https://x", uid, 1, meta, file, false)
	if a == b {
		t.Fatalf("two SUN URLs for the same read are identical; PICC data must carry random padding")
	}
}

func TestBuildSUNErrors(t *testing.T) {
	uid := unhex(t, "04DE5F1EACC040")
	if _, err := BuildSUN("https://x", uid[:4], 1, zeroKey, zeroKey, false); err == nil {
		t.Error("BuildSUN accepted a 4-byte UID")
	}
	if _, err := BuildSUN("https://x", uid, 1<<24, zeroKey, zeroKey, false); err == nil {
		t.Error("BuildSUN accepted a counter past 3 bytes")
	}
	if _, err := BuildSUN("https://x", uid, 1, zeroKey[:5], zeroKey, false); err == nil {
		t.Error("BuildSUN accepted a 5-byte meta key")
	}
	if _, err := BuildSUN("https://x", uid, 1, zeroKey, nil, true); err == nil {
		t.Error("BuildSUN accepted a missing file key")
	}
}

func FuzzVerifySUN(f *testing.F) {
	for _, s := range []string{
		"https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086",
		"https://my424dna.com/?picc_data=FDE4AFA99B5C820A2C1BB0F1C792D0EB&enc=94592FDE69FA06E8E3B6CA686A22842B&cmac=C48B89C17A233B2C",
		"https://x.example/?uid=041E3C8A2D6B80&ctr=000006&c=4B00064004B0B3D3",
		"?e=&c=&enc=", "?enc=&c=&e=", "?c", "%%?&&=", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		res, err := VerifySUN(url, zeroKey, zeroKey)
		if err != nil && res.Valid {
			t.Fatalf("VerifySUN returned Valid with an error: %v", err)
		}
	})
}
