package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/api"
	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// DemoOptions are the flags of `demo`.
type DemoOptions struct {
	IO  *IOStreams
	Out *Printer
	// DB is the ledger to run on; empty means a fresh temporary one, removed at the end.
	DB     string
	Remote bool
	// Local holds the domain settings of the ledger that --remote serves.
	Local backend.LocalOptions
	// OpenLocal opens a ledger file (the story's backend without --remote).
	OpenLocal func(ctx context.Context, path string) (backend.Backend, func() error, error)
	// Device is this installation's device id.
	Device func() (string, error)
	// OpenPCSC reaches pcscd; nil keeps the virtual tag on the in-memory reader.
	OpenPCSC func() (nfc.Bus, error)
}

// The demo's story: what is paid, and with how much the payer starts.
const (
	demoFunds  = "20.00"
	demoAmount = "3.50"
	demoPAN    = "4111111111111111" // a well-known test card number (Luhn-valid)
	// demoBusyWait is how long the demo waits for a vpcd reader that other programs hold.
	demoBusyWait = 30 * time.Second
)

func newDemoCmd(f *Factory) *cobra.Command {
	opts := &DemoOptions{}
	c := &cobra.Command{
		Use:   "demo [--db PATH] [--remote]",
		Short: "Run the whole story on a virtual tag: provision it, pay by tapping, activate a card, migrate it",
		Long: `Run every flow of tagpay once, end to end, on a virtual NTAG213, and say what each step
of the patents did:

  1. a merchant and a payer are created and the payer funded; the tag is provisioned
     (registered, written, read back) and tapped to pay 3.50 EUR: NFC tag payment
     request, parsing reply, order generation request, order, payment step; then the
     receipt, the balances and ledger verify;
  2. the payer logs in on this device, adds a card and activates its nfc and qr
     functions in one request (one identifier per function), and pays with the nfc
     token;
  3. the payer logs in on a second device and migrates the card to it: the old token
     is declined (as it must be) and the new one pays.

The tag sits in a vpcd reader of the running pcscd (scripts/pcscd start) when there is
one, else on an in-memory reader; the output says which. The ledger is a fresh temporary
file, removed at the end, unless --db names one. With --remote the story runs through a
tagpay server started in this process on a free loopback port.

Exits 0 when every step behaved as it should (the declined old token included), and
with the failing step's exit code otherwise.`,
		Example: `  tagpay demo
  tagpay demo --remote
  tagpay demo --db demo.db -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			// Only an explicit --db: the demo never writes into the everyday ledger.
			if fl := c.Flag("db"); fl != nil && fl.Changed {
				opts.DB = cfg.DB
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			opts.IO = f.IO
			opts.Local = localOptions(cfg)
			opts.OpenLocal = f.OpenLocal
			opts.Device = f.DeviceID
			opts.OpenPCSC = nfc.OpenPCSC
			return runDemo(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.Remote, "remote", false, "run the story through a tagpay server started in-process on a free loopback port")
	return c
}

// DemoStep is one line of the story: a step of a flow, named as the patent names it.
type DemoStep struct {
	Flow   string `json:"flow,omitempty"`
	Step   string `json:"step"`
	Detail string `json:"detail"`
}

// DemoResult is `demo -o json`.
type DemoResult struct {
	OK        bool       `json:"ok"`
	Ledger    string     `json:"ledger"`
	Temporary bool       `json:"temporary"`
	Server    string     `json:"server,omitempty"`
	Reader    string     `json:"reader"`
	PCSC      bool       `json:"pcsc"`
	Steps     []DemoStep `json:"steps"`
	Receipt   *Receipt   `json:"receipt,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// demoLog tells the story: a line per step as it happens, or one JSON document at the
// end with -o json.
type demoLog struct {
	io   *IOStreams
	json bool
	flow string
	res  DemoResult
}

func (l *demoLog) line(format string, args ...any) {
	if !l.json {
		fmt.Fprintf(l.io.Out, format+"\n", args...)
	}
}

// section starts a flow.
func (l *demoLog) section(title string) {
	l.flow = title
	l.line("\n%s", l.io.Colors().Bold(title))
}

// step records one step and prints it.
func (l *demoLog) step(name, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	l.res.Steps = append(l.res.Steps, DemoStep{Flow: l.flow, Step: name, Detail: detail})
	indent := ""
	if l.flow != "" {
		indent = "  "
	}
	l.line("%s%s: %s", indent, name, detail)
}

// text prints a block (a receipt, a QR code) that only people read.
func (l *demoLog) text(s string) {
	if !l.json {
		io.WriteString(l.io.Out, s)
	}
}

func runDemo(ctx context.Context, opts *DemoOptions) (err error) {
	log := &demoLog{io: opts.IO, json: opts.Out.JSONOutput()}
	scratch, err := os.MkdirTemp("", "tagpay-demo-*")
	if err != nil {
		return fmt.Errorf("demo: making a temporary folder: %w", err)
	}
	log.res.Ledger, log.res.Temporary = opts.DB, opts.DB == ""
	if log.res.Temporary {
		log.res.Ledger = filepath.Join(scratch, "ledger.db")
	}
	defer func() {
		if rerr := os.RemoveAll(scratch); rerr != nil && err == nil {
			err = fmt.Errorf("demo: removing %s: %w", scratch, rerr)
		}
		if err == nil && log.res.Temporary {
			log.line("removed the temporary ledger %s", log.res.Ledger)
		}
		log.res.OK = err == nil
		if err != nil {
			log.res.Error = err.Error()
		}
		if log.json {
			log.res.Steps = orEmpty(log.res.Steps)
			if perr := opts.Out.JSON(log.res); err == nil {
				err = perr
			}
		} else if err == nil {
			log.line("demo: %s", opts.IO.Colors().Green("every step behaved as it should"))
		}
	}()

	where := "on the ledger " + log.res.Ledger
	if log.res.Temporary {
		where = "on a fresh temporary ledger " + log.res.Ledger + " (removed at the end)"
	}
	var be backend.Backend
	var release func() error
	if opts.Remote {
		srv, err := startDemoServer(ctx, opts, log.res.Ledger, scratch)
		if err != nil {
			return err
		}
		be, release = srv.client, srv.stop
		log.res.Server = srv.url
		log.line("tagpay demo through a tagpay server at %s (started in this process, %s), %s", srv.url, srv.key, where)
	} else {
		if be, release, err = opts.OpenLocal(ctx, log.res.Ledger); err != nil {
			return err
		}
		log.line("tagpay demo %s", where)
	}
	story := &demoStory{be: be, log: log, opts: opts}
	err = story.run(ctx)
	if story.tag != nil {
		err = errors.Join(err, story.tag.Stop())
	}
	if rerr := release(); rerr != nil {
		err = errors.Join(err, fmt.Errorf("demo: closing the ledger: %w", rerr))
	}
	if err == nil && opts.Remote {
		log.line("server stopped")
	}
	return err
}

// demoServer is `tagpay serve` running inside the demo's process.
type demoServer struct {
	url    string
	key    string // how the demo got its admin key, for people
	client backend.Backend
	stop   func() error
}

// startDemoServer serves the ledger at path on a free loopback port, the way `tagpay
// serve --addr 127.0.0.1:0 --bootstrap-admin-key FILE` does, and returns a client
// holding an admin key: the bootstrap key of the fresh temporary ledger, or, in a
// ledger named with --db, an admin key the demo makes first and revokes when it stops
// the server, so that no key whose secret is gone stays active there.
func startDemoServer(ctx context.Context, opts *DemoOptions, path, scratch string) (*demoServer, error) {
	var minted store.CreatedKey
	if opts.DB != "" {
		var err error
		if minted, err = demoAdminKey(ctx, opts, path); err != nil {
			return nil, err
		}
	}
	keyFile := filepath.Join(scratch, "admin.key")
	quiet := &IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}
	ready := make(chan string, 1)
	sopts := &ServeOptions{
		IO: quiet, DB: path, Addr: "127.0.0.1:0", BootstrapKeyFile: keyFile, Local: opts.Local,
		Ready: func(url string) { ready <- url },
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runServe(sctx, sopts) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("demo: starting the server: %w", err)
	}
	stopServer := func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("demo: stopping the server: %w", err)
		}
		return nil
	}
	srv := &demoServer{url: url, stop: stopServer}
	secret := minted.Secret
	if secret == "" {
		raw, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("demo: the server wrote no bootstrap admin key: %w", err), stopServer())
		}
		secret = strings.TrimSpace(string(raw))
		srv.key = "bootstrap admin key"
	} else {
		srv.key = "admin key " + minted.ID + ", revoked at the end"
	}
	client := api.NewClient(url, secret, api.WithUserAgent("tagpay-demo"))
	srv.client = client
	if minted.ID != "" {
		srv.stop = func() error {
			_, rerr := client.RevokeKey(context.WithoutCancel(ctx), minted.ID)
			if rerr != nil {
				rerr = fmt.Errorf("demo: revoking the demo's admin key %s: %w", minted.ID, rerr)
			}
			return errors.Join(rerr, stopServer())
		}
	}
	return srv, nil
}

// demoAdminKey makes an admin key in the ledger at path, before anything serves it.
func demoAdminKey(ctx context.Context, opts *DemoOptions, path string) (store.CreatedKey, error) {
	var key store.CreatedKey
	err := withBackend(ctx, func(ctx context.Context) (backend.Backend, func() error, error) { return opts.OpenLocal(ctx, path) }, func(be backend.Backend) (err error) {
		key, err = be.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleAdmin})
		return err
	})
	if err != nil {
		return store.CreatedKey{}, fmt.Errorf("demo: making an admin key in %s: %w", path, err)
	}
	return key, nil
}

// demoStory is the story itself, on one backend.
type demoStory struct {
	be   backend.Backend
	log  *demoLog
	opts *DemoOptions
	tag  *virtualTag

	merchant, payer store.Account
	paid            int // payments made, each demoAmount
}

// stepError names the step that failed, keeping the error's kind for the exit code.
func stepError(step string, err error) error {
	return fmt.Errorf("demo step %q: %w", step, err)
}

func (s *demoStory) run(ctx context.Context) error {
	if err := s.setup(ctx); err != nil {
		return err
	}
	if err := s.provision(ctx); err != nil {
		return err
	}
	if err := s.tagPayment(ctx); err != nil {
		return err
	}
	thisDevice, card, err := s.activation(ctx)
	if err != nil {
		return err
	}
	if err := s.migration(ctx, thisDevice, card); err != nil {
		return err
	}
	return s.check(ctx)
}

func (s *demoStory) setup(ctx context.Context) (err error) {
	if s.merchant, err = s.be.CreateAccount(ctx, store.CreateAccountRequest{Name: "Demo Café", Kind: store.AccountMerchant, Currency: "EUR"}); err != nil {
		return stepError("accounts", err)
	}
	if s.payer, err = s.be.CreateAccount(ctx, store.CreateAccountRequest{Name: "Demo Payer", Kind: store.AccountPerson, Currency: "EUR"}); err != nil {
		return stepError("accounts", err)
	}
	s.log.step("accounts", "merchant %s %q, payer %s %q", s.merchant.ID, s.merchant.Name, s.payer.ID, s.payer.Name)
	tr, err := s.be.FundAccount(ctx, store.FundRequest{Account: s.payer.ID, Amount: demoFunds})
	if err != nil {
		return stepError("funding", err)
	}
	s.log.step("funding", "payer funded with %s (transfer %s)", tr.Amount, tr.ID)
	return nil
}

// provision puts a blank virtual NTAG213 on a reader and provisions it as `tag
// provision` does: register, write, read back on a fresh connection, confirm.
func (s *demoStory) provision(ctx context.Context) error {
	img, err := nfc.NewImage(nfc.TypeNTAG213, nil, nil)
	if err != nil {
		return stepError("virtual tag", err)
	}
	if s.tag, err = placeVirtualTag(ctx, img, emu.ACR122, s.opts.OpenPCSC, demoBusyWait, defaultTagWait); err != nil {
		return stepError("virtual tag", err)
	}
	s.log.res.Reader, s.log.res.PCSC = s.tag.Reader, s.tag.PCSC
	if s.tag.PCSC {
		s.log.step("reader", "virtual NTAG213 %X through pcscd and the emulator, in %q", []byte(img.UID), s.tag.Reader)
	} else {
		s.log.step("reader", "virtual NTAG213 %X through the in-memory reader, since %s", []byte(img.UID), s.tag.Why)
	}
	t, err := s.tag.Access.open(ctx)
	if err != nil {
		return stepError("provision", err)
	}
	r := orders.Provision(ctx, s.be, &provisionTarget{t: t, ctx: ctx}, orders.ProvisionRequest{Merchant: s.merchant.ID, Label: "Demo Café counter"})
	personality, ic, apdus := t.Personality(), t.Name, t.apdus()
	if cerr := t.Close(); r.Err == nil && cerr != nil {
		r.Err = cerr
	}
	if r.Err != nil {
		return stepError("provision", fmt.Errorf("tag %s %s: %w", r.UID, r.Status, r.Err))
	}
	s.log.step("provision", "tag %s registered, written, read back: %s (ref %s, %s behind an %s reader, %d APDUs)", r.UID, r.Status, r.Ref, ic, personality, apdus)
	return nil
}

// tap reads the tag as a payer's phone does.
func (s *demoStory) tap(ctx context.Context, step string) (Tap, error) {
	tap, err := s.tag.Access.readTap(ctx, true)
	if err != nil {
		return Tap{}, stepError(step, err)
	}
	return tap, nil
}

// pay sends a tap for demoAmount: flow 1 in one ledger transaction, from the payer's
// balance or with a payment token on the device it is bound to.
func (s *demoStory) pay(ctx context.Context, tap Tap, token, device string) (Receipt, error) {
	r, err := s.be.Tap(ctx, orders.TapRequest{
		UID: tap.UID, Content: tap.Content, Payer: s.payer.ID, Amount: demoAmount, Memo: "demo coffee",
		PaymentToken: token, Device: device,
	})
	return Receipt{Tap: tap, Receipt: r}, err
}

// tagPayment is flow 1, step by step as the patent names them.
func (s *demoStory) tagPayment(ctx context.Context) error {
	s.log.section("Flow 1: NFC tag payment (US11562344B2)")
	tap, err := s.tap(ctx, "reading the NFC tag")
	if err != nil {
		return err
	}
	s.log.step("reading the NFC tag", "tag ID %s, tag content %s", tap.UID, tap.Content)
	r, err := s.pay(ctx, tap, "", "")
	s.log.step("NFC tag payment request", "tag content and tag ID sent")
	if err != nil {
		return stepError("NFC tag payment", err)
	}
	fixed := "amount left to the payer"
	if r.Reply.Amount != nil {
		fixed = "fixed amount " + r.Reply.Amount.String()
	}
	s.log.step("parsing reply", "%s: payee %q %s, %s, currency %s, expires %s", r.Reply.ID, r.Reply.PayeeName, r.Reply.Payee, fixed, r.Reply.Currency, fmtTime(r.Reply.ExpiresAt))
	s.log.step("order generation request", "first account %s, transaction %s %s %q, second account %s", s.payer.ID, demoAmount, r.Reply.Currency, "demo coffee", r.Reply.Payee)
	s.log.step("order generation", "order %s for %s", r.Order.ID, r.Order.Amount)
	s.paid++
	s.log.step("payment step", "order %s %s from the payer's balance, transfer %s, all in one ledger transaction", r.Order.ID, r.Order.Status, r.Order.Transfer)
	s.log.res.Receipt = &r
	s.log.text(receiptText(r.Order))
	if err := s.balances(ctx); err != nil {
		return err
	}
	return s.verify(ctx)
}

// receiptText is the receipt as people read it.
func receiptText(o orders.Order) string {
	var b strings.Builder
	b.WriteString("receipt:\n")
	for _, f := range orderFields(o) {
		if f.Value != "" {
			fmt.Fprintf(&b, "  %-11s %s\n", f.Name, f.Value)
		}
	}
	return b.String()
}

// balances prints both balances and checks them against the payments made.
func (s *demoStory) balances(ctx context.Context) error {
	payer, err := s.be.GetAccount(ctx, s.payer.ID)
	if err != nil {
		return stepError("balances", err)
	}
	merchant, err := s.be.GetAccount(ctx, s.merchant.ID)
	if err != nil {
		return stepError("balances", err)
	}
	s.log.step("balances", "payer %s, merchant %s", payer.BalanceMoney(), merchant.BalanceMoney())
	funds, err := store.ParseAmount(demoFunds, "EUR")
	if err != nil {
		return stepError("balances", err)
	}
	each, err := store.ParseAmount(demoAmount, "EUR")
	if err != nil {
		return stepError("balances", err)
	}
	spent := each.Amount * int64(s.paid)
	if payer.Balance != funds.Amount-spent || merchant.Balance != spent {
		return stepError("balances", fmt.Errorf("after %d payment(s) of %s the payer should hold %d and the merchant %d minor units", s.paid, each, funds.Amount-spent, spent))
	}
	return nil
}

func (s *demoStory) verify(ctx context.Context) error {
	vs, err := s.be.Verify(ctx)
	if err != nil {
		return stepError("ledger verify", err)
	}
	if len(vs) > 0 {
		var list []string
		for _, v := range vs {
			list = append(list, fmt.Sprintf("%s %s: %s", v.Check, v.Subject, v.Message))
		}
		s.log.step("ledger verify", "%d violation(s): %s", len(vs), strings.Join(list, "; "))
		return stepError("ledger verify", &ExitFailure{Code: ExitError, Message: fmt.Sprintf("ledger verify found %d violation(s)", len(vs))})
	}
	s.log.step("ledger verify", "ok, no violations")
	return nil
}

// activation is flow 3: a card on this device, two payment functions in one request,
// then a payment with the nfc token.
func (s *demoStory) activation(ctx context.Context) (string, cards.Card, error) {
	s.log.section("Flow 3: payment function activation (US12198126B2)")
	device, err := s.opts.Device()
	if err != nil {
		return "", cards.Card{}, stepError("login", err)
	}
	if _, err := s.be.Login(ctx, cards.LoginRequest{Account: s.payer.ID, Device: device, Name: "this device"}); err != nil {
		return "", cards.Card{}, stepError("login", err)
	}
	s.log.step("login", "payer logged in on this device %s", device)
	card, err := s.be.AddCard(ctx, cards.AddCardRequest{Account: s.payer.ID, Label: "Demo debit card", PAN: demoPAN, Device: device})
	if err != nil {
		return "", cards.Card{}, stepError("card added", err)
	}
	s.log.step("card added", "target resource card %s %q …%s, bound to %s", card.ID, card.Label, card.PANLast4, card.Device)
	fns := []cards.Function{cards.FunctionNFC, cards.FunctionQR}
	s.log.step("payment function activation request", "card %s, payment function identifiers %s", card.ID, joinFunctions(fns))
	act, err := s.be.ActivateCard(ctx, cards.ActivateRequest{Card: card.ID, Functions: fns})
	if err != nil {
		return "", cards.Card{}, stepError("payment function activation request", err)
	}
	nfcTok, okNFC := tokenFor(act.Identifiers, cards.FunctionNFC)
	qrTok, okQR := tokenFor(act.Identifiers, cards.FunctionQR)
	if !okNFC || !okQR || len(act.Identifiers) != len(fns) {
		return "", cards.Card{}, stepError("activation reply message", fmt.Errorf("want one identifier for each of %s, got %d", joinFunctions(fns), len(act.Identifiers)))
	}
	s.log.step("activation reply message", "target payment identifiers: nfc %s (%s), qr %s (%s)", nfcTok.Number, nfcTok.ID, qrTok.Number, qrTok.ID)
	var qr strings.Builder
	drawQR(&qr, qrTok.Number)
	s.log.text(qr.String())

	tap, err := s.tap(ctx, "payment with the nfc token")
	if err != nil {
		return "", cards.Card{}, err
	}
	r, err := s.pay(ctx, tap, nfcTok.Number, device)
	if err != nil {
		return "", cards.Card{}, stepError("payment with the nfc token", err)
	}
	s.paid++
	s.log.step("payment with the nfc token", "tap, parsing reply %s, order %s %s %s with token %s", r.Reply.ID, r.Order.ID, r.Order.Status, r.Order.Amount, paidWith(r.Order))
	return device, card, nil
}

// migration is flow 2: the payer logs in on a second device, which is the device in
// hand, and moves the card there from this one.
func (s *demoStory) migration(ctx context.Context, oldDevice string, card cards.Card) error {
	s.log.section("Flow 2: payment card migration (US11875336B2)")
	newDevice := store.NewID(store.PrefixDevice)
	if _, err := s.be.Login(ctx, cards.LoginRequest{Account: s.payer.ID, Device: newDevice, Name: "second device"}); err != nil {
		return stepError("login on a second device", err)
	}
	s.log.step("login on a second device", "payer logged in on %s, the device in hand", newDevice)
	s.log.step("payment card migration operation", "on %s for account %s", newDevice, s.payer.ID)
	logins, err := s.be.ListLogins(ctx, s.payer.ID)
	if err != nil {
		return stepError("device identifiers displayed", err)
	}
	var shown []string
	for _, l := range logins {
		if l.Device != newDevice {
			shown = append(shown, fmt.Sprintf("%s %q (last login %s)", l.Device, l.DeviceName, fmtTime(l.LastLogin)))
		}
	}
	if len(shown) == 0 {
		return stepError("device identifiers displayed", fmt.Errorf("the account has been logged in on no other device"))
	}
	s.log.step("device identifiers displayed", "%s", strings.Join(shown, ", "))
	s.log.step("selecting operation", "%s, the device the card is bound to", oldDevice)
	m, err := s.be.MigrateCard(ctx, cards.MigrateRequest{Account: s.payer.ID, From: oldDevice, To: newDevice, Card: card.ID})
	if err != nil {
		return stepError("card migrated", err)
	}
	s.log.step("card migrated", "%s from %s to %s; deleted %s; issued %s; audit event %s", m.Card, m.From, m.To, describeTokens(m.Deleted, false), describeTokens(m.Issued, true), m.Event)

	oldNFC, ok := tokenFor(m.Deleted, cards.FunctionNFC)
	if !ok {
		return stepError("card migrated", fmt.Errorf("the migration deleted no nfc token"))
	}
	tap, err := s.tap(ctx, "old token declined")
	if err != nil {
		return err
	}
	r, err := s.pay(ctx, tap, oldNFC.Number, oldDevice)
	switch {
	case err == nil:
		s.paid++
		return stepError("old token declined", &ExitFailure{Code: ExitError, Message: fmt.Sprintf("the deleted token %s paid order %s", oldNFC.Number, r.Order.ID)})
	case store.KindOf(err) != store.KindDeclined:
		return stepError("old token declined", err)
	}
	s.log.step("old token declined", "nfc %s: %s (expected; the declined tap left the ledger as it was)", oldNFC.Number, declineMessage(err))

	newNFC, ok := tokenFor(m.Issued, cards.FunctionNFC)
	if !ok {
		return stepError("card migrated", fmt.Errorf("the migration issued no nfc token"))
	}
	if tap, err = s.tap(ctx, "new token pays"); err != nil {
		return err
	}
	if r, err = s.pay(ctx, tap, newNFC.Number, newDevice); err != nil {
		return stepError("new token pays", err)
	}
	s.paid++
	s.log.step("new token pays", "nfc %s on %s: order %s %s %s", newNFC.Number, newDevice, r.Order.ID, r.Order.Status, r.Order.Amount)
	return nil
}

// check ends the story with the balances and ledger verify.
func (s *demoStory) check(ctx context.Context) error {
	s.log.section("End")
	if err := s.balances(ctx); err != nil {
		return err
	}
	return s.verify(ctx)
}

// declineMessage is the ledger's reason, without any prefix a caller added.
func declineMessage(err error) string {
	var se *store.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

func tokenFor(ts []cards.Token, fn cards.Function) (cards.Token, bool) {
	for _, t := range ts {
		if t.Function == fn {
			return t, true
		}
	}
	return cards.Token{}, false
}

func joinFunctions(fns []cards.Function) string {
	names := make([]string, len(fns))
	for i, fn := range fns {
		names[i] = string(fn)
	}
	return strings.Join(names, ",")
}

func describeTokens(ts []cards.Token, numbers bool) string {
	if len(ts) == 0 {
		return "none"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s %s", t.Function, t.ID)
		if numbers {
			parts[i] = fmt.Sprintf("%s %s (%s)", t.Function, t.Number, t.ID)
		}
	}
	return strings.Join(parts, ", ")
}

func paidWith(o orders.Order) string {
	if o.Instrument == nil || o.Instrument.Token == "" {
		return "none"
	}
	return o.Instrument.Token
}
