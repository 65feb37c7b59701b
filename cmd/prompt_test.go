package cmd

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// fakeBackend answers the few calls a test makes and records them; any other call
// panics through the nil embedded interface, which fails the test loudly.
type fakeBackend struct {
	backend.Backend
	reply    orders.ParsingReply
	calls    []string
	logins   []cards.Login
	migrated cards.MigrateRequest
	cards    []cards.Card
	tokens   []cards.Token
	changed  []cards.TokenStatusRequest
}

func (b *fakeBackend) PreviewTap(_ context.Context, req orders.PaymentRequest) (orders.ParsingReply, error) {
	b.calls = append(b.calls, "preview")
	return b.reply, nil
}

// Tap answers as the ledger would: an open tag needs an amount.
func (b *fakeBackend) Tap(_ context.Context, req orders.TapRequest) (orders.Receipt, error) {
	b.calls = append(b.calls, "tap "+req.Amount)
	if req.Amount == "" && b.reply.Amount == nil {
		return orders.Receipt{}, store.Errorf(store.KindInvalid, "amount_required", "this tag has no fixed amount; give the amount to pay")
	}
	return orders.Receipt{Order: orders.Order{ID: "ord_1", Status: orders.OrderPaid, Amount: store.Money{Amount: 350, Currency: "EUR"}}}, nil
}

func (b *fakeBackend) ListLogins(_ context.Context, account string) ([]cards.Login, error) {
	return b.logins, nil
}

func (b *fakeBackend) MigrateCard(_ context.Context, req cards.MigrateRequest) (cards.Migration, error) {
	b.migrated = req
	return cards.Migration{Card: "card_1", From: req.From, To: req.To}, nil
}

// testEnv is the Env of a command run with be, stdin as typed input, and stdin and
// stdout terminals or not; it returns the buffer of stderr, where prompts go.
func testEnv(be backend.Backend, stdin string, tty bool) (Env, *bytes.Buffer) {
	ios, in, _, errOut := Test()
	in.WriteString(stdin)
	ios.SetTTY(tty, tty)
	return Env{IO: ios, Out: NewPrinter(ios, FormatJSON), Backend: func(context.Context) (backend.Backend, func() error, error) {
		return be, func() error { return nil }, nil
	}}, errOut
}

func TestPayConfirmation(t *testing.T) {
	fixed := &store.Money{Amount: 350, Currency: "EUR"}
	tests := []struct {
		name      string
		stdin     string
		tty, yes  bool
		amount    string
		fixed     *store.Money
		wantCalls string
		wantUsage bool
		wantErr   string
	}{
		{name: "confirmed on a terminal", stdin: "y\n", tty: true, fixed: fixed, wantCalls: "preview,tap "},
		{name: "refused on a terminal", stdin: "n\n", tty: true, fixed: fixed, wantCalls: "preview", wantErr: "not confirmed"},
		{name: "empty answer means no", stdin: "\n", tty: true, fixed: fixed, wantCalls: "preview", wantErr: "not confirmed"},
		{name: "amount asked, then confirmed", stdin: "2.00\nyes\n", tty: true, wantCalls: "preview,tap 2.00 EUR"},
		{name: "a bad amount is asked again", stdin: "1,50\n1.5\ny\n", tty: true, wantCalls: "preview,tap 1.50 EUR"},
		{name: "--yes: one request, no terminal needed", yes: true, amount: "1", wantCalls: "tap 1"},
		{name: "no terminal and no --yes: usage error before any call", wantUsage: true},
		{name: "--yes but no amount for an open tag: usage error", yes: true, wantCalls: "tap ", wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := &fakeBackend{reply: orders.ParsingReply{ID: "rep_1", Payee: "acct_m", PayeeName: "Cafe", Amount: tt.fixed, Currency: "EUR"}}
			env, log := testEnv(be, tt.stdin, tt.tty)
			err := runPay(context.Background(), &PayOptions{Env: env, Payer: "acct_p", UID: "04AA", Content: "https://x/t/R?s=1", Yes: tt.yes, Amount: tt.amount})
			if got := strings.Join(be.calls, ","); got != tt.wantCalls {
				t.Errorf("backend calls = %q, want %q", got, tt.wantCalls)
			}
			switch {
			case tt.wantUsage:
				if ExitCode(err) != ExitUsage {
					t.Errorf("err = %v (exit %d), want a usage error", err, ExitCode(err))
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("err = %v; prompts:\n%s", err, log)
			}
			if tt.tty && !tt.yes && !strings.Contains(log.String(), "Cafe") {
				t.Errorf("the prompt does not name the payee:\n%s", log)
			}
		})
	}
}

func TestMigratePicksTheOldDevice(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	logins := []cards.Login{
		{Account: "acct_c", Device: "dev_new", DeviceName: "laptop", LoggedIn: true, LastLogin: now},
		{Account: "acct_c", Device: "dev_old", DeviceName: "old phone", LastLogin: now.Add(-time.Hour)},
		{Account: "acct_c", Device: "dev_tab", DeviceName: "tablet", LastLogin: now.Add(-2 * time.Hour)},
	}
	t.Run("on a terminal, the list leaves out the new device", func(t *testing.T) {
		be := &fakeBackend{logins: logins}
		env, log := testEnv(be, "2\n", true)
		err := runCardMigrate(context.Background(), &CardMigrateOptions{Env: env, Account: "acct_c", To: "dev_new"})
		if err != nil {
			t.Fatal(err)
		}
		if be.migrated.From != "dev_tab" || be.migrated.To != "dev_new" {
			t.Errorf("migrated %+v, want from dev_tab (second choice) to dev_new", be.migrated)
		}
		if strings.Contains(log.String(), "laptop") || !strings.Contains(log.String(), "old phone") {
			t.Errorf("choices shown:\n%s", log)
		}
	})
	t.Run("a bad answer is asked again", func(t *testing.T) {
		be := &fakeBackend{logins: logins}
		env, _ := testEnv(be, "9\nold\n1\n", true)
		if err := runCardMigrate(context.Background(), &CardMigrateOptions{Env: env, Account: "acct_c", To: "dev_new"}); err != nil {
			t.Fatal(err)
		}
		if be.migrated.From != "dev_old" {
			t.Errorf("migrated from %q, want dev_old", be.migrated.From)
		}
	})
	t.Run("without a terminal --from is required", func(t *testing.T) {
		be := &fakeBackend{logins: logins}
		env, _ := testEnv(be, "1\n", false)
		err := runCardMigrate(context.Background(), &CardMigrateOptions{Env: env, Account: "acct_c", To: "dev_new"})
		if ExitCode(err) != ExitUsage || be.migrated.From != "" {
			t.Errorf("err = %v, migrated %+v; want a usage error and nothing migrated", err, be.migrated)
		}
	})
	t.Run("no other device to pick", func(t *testing.T) {
		be := &fakeBackend{logins: logins[:1]}
		env, _ := testEnv(be, "1\n", true)
		err := runCardMigrate(context.Background(), &CardMigrateOptions{Env: env, Account: "acct_c", To: "dev_new"})
		if err == nil || !strings.Contains(err.Error(), "no other device") {
			t.Errorf("err = %v, want one saying there is no other device", err)
		}
	})
}

func TestPayConfirmationShowsWhatIsPaidAndEscapesNames(t *testing.T) {
	be := &fakeBackend{reply: orders.ParsingReply{Payee: "acct_m", PayeeName: "Cafe\u202egnp.lanimreT", Currency: "EUR"}}
	env, log := testEnv(be, "1,50\n1.5\ny\n", true)
	if err := runPay(context.Background(), &PayOptions{Env: env, Payer: "acct_p", UID: "04AA", Content: "https://x/t/R?s=1"}); err != nil {
		t.Fatal(err)
	}
	prompts := log.String()
	for _, want := range []string{"Pay 1.50 EUR to ", `Cafe\u202e`, "type it like 1.50"} {
		if !strings.Contains(prompts, want) {
			t.Errorf("prompts lack %q:\n%s", want, prompts)
		}
	}
	if strings.ContainsRune(prompts, '\u202e') {
		t.Errorf("a right-to-left override reached the terminal:\n%q", prompts)
	}
}
