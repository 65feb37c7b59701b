package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// misbehaving is a ledger backend with one operation replaced, to check that the demo
// notices a step that does not behave as it should.
type misbehaving struct {
	backend.Backend
	tap    func(context.Context, orders.TapRequest) (orders.Receipt, error)
	verify func(context.Context) ([]store.Violation, error)
}

func (m *misbehaving) Tap(ctx context.Context, req orders.TapRequest) (orders.Receipt, error) {
	if m.tap != nil {
		return m.tap(ctx, req)
	}
	return m.Backend.Tap(ctx, req)
}

func (m *misbehaving) Verify(ctx context.Context) ([]store.Violation, error) {
	if m.verify != nil {
		return m.verify(ctx)
	}
	return m.Backend.Verify(ctx)
}

// demoOptions runs the demo on the in-memory reader, with a temporary ledger wrapped by
// wrap.
func demoOptions(t *testing.T, format string, wrap func(backend.Backend) *misbehaving) (*DemoOptions, *bytes.Buffer) {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	streams, _, out, _ := Test()
	return &DemoOptions{
		IO:  streams,
		Out: NewPrinter(streams, format),
		OpenLocal: func(_ context.Context, path string) (backend.Backend, func() error, error) {
			l, err := backend.OpenLocal(path, backend.LocalOptions{Store: store.Options{KeysPath: path + ".test-keys"}})
			if err != nil {
				return nil, nil, err
			}
			var be backend.Backend = l
			if wrap != nil {
				be = wrap(l)
			}
			return be, l.Close, nil
		},
		Device: func() (string, error) { return store.NewID(store.PrefixDevice), nil },
	}, out
}

func TestDemoTellsTheWholeStoryOnTheInMemoryReader(t *testing.T) {
	opts, out := demoOptions(t, FormatTable, nil)
	if err := runDemo(context.Background(), opts); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		"through the in-memory reader, since this build has no PC/SC access",
		"  payment step: order ord_",
		"  old token declined: nfc ",
		"  balances: payer 9.50 EUR, merchant 10.50 EUR",
		"removed the temporary ledger ",
		"demo: every step behaved as it should",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the story lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoFailsWhenAStepMisbehaves(t *testing.T) {
	for _, tt := range []struct {
		name     string
		wrap     func(backend.Backend) *misbehaving
		wantCode int
		wantStep string
	}{
		{
			name: "the ledger declines the tag",
			wrap: func(be backend.Backend) *misbehaving {
				return &misbehaving{Backend: be, tap: func(context.Context, orders.TapRequest) (orders.Receipt, error) {
					return orders.Receipt{}, store.Errorf(store.KindDeclined, "tag_revoked", "tag revoked")
				}}
			},
			wantCode: ExitDeclined,
			wantStep: `demo step "NFC tag payment": tag revoked`,
		},
		{
			name: "a deleted token still pays",
			wrap: func(be backend.Backend) *misbehaving {
				return &misbehaving{Backend: be, tap: func(ctx context.Context, req orders.TapRequest) (orders.Receipt, error) {
					r, err := be.Tap(ctx, req)
					if store.KindOf(err) == store.KindDeclined {
						req.PaymentToken = "" // pays from the balance instead of declining
						return be.Tap(ctx, req)
					}
					return r, err
				}}
			},
			wantCode: ExitError,
			wantStep: `demo step "old token declined": the deleted token`,
		},
		{
			name: "ledger verify finds a violation",
			wrap: func(be backend.Backend) *misbehaving {
				return &misbehaving{Backend: be, verify: func(context.Context) ([]store.Violation, error) {
					return []store.Violation{{Check: "balance", Subject: "acct_x", Message: "balance differs from its postings"}}, nil
				}}
			},
			wantCode: ExitError,
			wantStep: `demo step "ledger verify"`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts, out := demoOptions(t, FormatJSON, tt.wrap)
			err := runDemo(context.Background(), opts)
			if err == nil {
				t.Fatalf("demo succeeded:\n%s", out)
			}
			if got := ExitCode(err); got != tt.wantCode {
				t.Errorf("exit code %d, want %d (%v)", got, tt.wantCode, err)
			}
			if !strings.Contains(err.Error(), tt.wantStep) {
				t.Errorf("error %q does not name %q", err, tt.wantStep)
			}
			var res DemoResult
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
				t.Fatalf("-o json output is not one JSON document: %v\n%s", err, out)
			}
			if res.OK || !strings.Contains(res.Error, tt.wantStep) {
				t.Errorf("JSON result ok=%v error=%q, want a failure naming %q", res.OK, res.Error, tt.wantStep)
			}
		})
	}
}
