package cmd

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/nfc/ndef"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// BenchmarkTapToPaid measures one tap payment as `tagpay pay` makes it, through pcscd
// and the emulator: reach pcscd, wait for the tag, identify it and read its URL, then the
// payment request, the order and the payment, each a durable transaction of a ledger
// file (fsync on commit). It reports the p50 and p99 of one tap-to-paid and taps/s, for
// both reader personalities.
//
//	scripts/pcscd start && go test -run='^$' -bench=TapToPaid -benchtime=200x ./cmd
func BenchmarkTapToPaid(b *testing.B) {
	for _, p := range []emu.Personality{emu.ACR122, emu.Part3} {
		b.Run(string(p), func(b *testing.B) {
			if ok, err := pcscCondition(); !ok {
				if err != nil {
					b.Fatal(err)
				}
				b.Skip("needs pcscd with vpcd (scripts/pcscd start)")
			}
			benchTapToPaid(b, p)
		})
	}
}

func benchTapToPaid(b *testing.B, p emu.Personality) {
	ctx := context.Background()
	l, err := backend.OpenLocal(filepath.Join(b.TempDir(), "ledger.db"), backend.LocalOptions{Store: store.Options{KeysPath: filepath.Join(b.TempDir(), "keys.json")}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	shop, err := l.CreateAccount(ctx, store.CreateAccountRequest{Name: "Bench Café", Kind: store.AccountMerchant, Currency: "EUR"})
	if err != nil {
		b.Fatal(err)
	}
	payer, err := l.CreateAccount(ctx, store.CreateAccountRequest{Name: "Bench Payer", Kind: store.AccountPerson, Currency: "EUR"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "1000000.00"}); err != nil {
		b.Fatal(err)
	}
	uid, _ := hex.DecodeString("04B3A7C0FFEE01")
	tag, err := l.RegisterTag(ctx, orders.RegisterRequest{UID: hex.EncodeToString(uid), Merchant: shop.ID})
	if err != nil {
		b.Fatal(err)
	}
	msg, err := ndef.Encode(ndef.Message{ndef.NewURI(tag.Content)})
	if err != nil {
		b.Fatal(err)
	}
	img, err := nfc.NewImage(nfc.TypeNTAG213, uid, msg)
	if err != nil {
		b.Fatal(err)
	}
	v, err := placeVirtualTag(ctx, img, p, nfc.OpenPCSC, time.Minute, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Stop()
	if !v.PCSC {
		b.Fatalf("the tag is not in pcscd: %s", v.Why)
	}

	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		tap, err := v.Access.readTap(ctx, true)
		if err != nil {
			b.Fatal(err)
		}
		r, err := l.Tap(ctx, orders.TapRequest{UID: tap.UID, Content: tap.Content, Payer: payer.ID, Amount: "1.00"})
		if err != nil || r.Order.Status != orders.OrderPaid {
			b.Fatalf("tap %d: order %+v, %v", len(lat)+1, r.Order, err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	// Nearest rank: the smallest latency at or above p percent of the taps.
	rank := func(p int) time.Duration { return lat[max((len(lat)*p+99)/100-1, 0)] }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(rank(50)), "p50-ms")
	b.ReportMetric(ms(rank(99)), "p99-ms")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "taps/s")
}
