package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/store"
)

func (b *fakeBackend) ListCards(_ context.Context, account string, _ store.Page) ([]cards.Card, error) {
	return b.cards, nil
}

func (b *fakeBackend) GetToken(_ context.Context, id string) (cards.Token, error) {
	for _, t := range b.tokens {
		if t.ID == id || t.Number == id {
			return t, nil
		}
	}
	return cards.Token{}, store.Errorf(store.KindNotFound, "token_not_found", "token %s not found", id)
}

func (b *fakeBackend) ChangeToken(_ context.Context, req cards.TokenStatusRequest) (cards.Token, error) {
	b.changed = append(b.changed, req)
	return cards.Token{ID: req.Token, Status: cards.TokenDeleted}, nil
}

func TestMigrateChecksBeforeItAsks(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	logins := []cards.Login{
		{Account: "acct_c", Device: "dev_new", DeviceName: "laptop", LoggedIn: false, LastLogin: now},
		{Account: "acct_c", Device: "dev_old", DeviceName: "old phone", LastLogin: now.Add(-time.Hour)},
	}
	be := &fakeBackend{logins: logins}
	env, log := testEnv(be, "1\n", true)
	err := runCardMigrate(context.Background(), &CardMigrateOptions{Env: env, Account: "acct_c", To: "dev_new"})
	if ExitCode(err) != ExitConflict || !strings.Contains(err.Error(), "not logged in on device dev_new") {
		t.Fatalf("err = %v (exit %d), want a conflict naming this device", err, ExitCode(err))
	}
	if log.Len() != 0 || be.migrated.From != "" {
		t.Errorf("asked %q and migrated %+v before refusing", log, be.migrated)
	}
}

func TestMigratePicksAmongSeveralCards(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	logins := []cards.Login{
		{Account: "acct_c", Device: "dev_new", LoggedIn: true, LastLogin: now},
		{Account: "acct_c", Device: "dev_old", DeviceName: "old phone", LastLogin: now.Add(-time.Hour)},
	}
	cs := []cards.Card{
		{ID: "card_a", Account: "acct_c", Label: "Visa", PANLast4: "1111", Device: "dev_old", Status: cards.CardActive},
		{ID: "card_gone", Account: "acct_c", Label: "Old", Device: "dev_old", Status: cards.CardRemoved},
		{ID: "card_b", Account: "acct_c", Label: "Amex\u202e", Device: "dev_old", Status: cards.CardActive},
		{ID: "card_c", Account: "acct_c", Label: "Here", Device: "dev_new", Status: cards.CardActive},
	}
	t.Run("several: the user picks", func(t *testing.T) {
		be := &fakeBackend{logins: logins, cards: cs}
		env, log := testEnv(be, "1\n2\n", true)
		if err := runCardMigrate(context.Background(), &CardMigrateOptions{Env: env, Account: "acct_c", To: "dev_new"}); err != nil {
			t.Fatal(err)
		}
		if be.migrated.From != "dev_old" || be.migrated.Card != "card_b" {
			t.Errorf("migrated %+v, want card_b from dev_old", be.migrated)
		}
		out := log.String()
		if !strings.Contains(out, "holds 2 cards") || strings.Contains(out, "card_gone") || strings.Contains(out, "card_c") {
			t.Errorf("card choices:\n%s", out)
		}
		if strings.Contains(out, "\u202e") || !strings.Contains(out, `Amex\u202e`) {
			t.Errorf("a format character reached the terminal:\n%q", out)
		}
	})
	t.Run("one: nothing to ask", func(t *testing.T) {
		be := &fakeBackend{logins: logins, cards: cs[:2]}
		env, log := testEnv(be, "1\n", true)
		if err := runCardMigrate(context.Background(), &CardMigrateOptions{Env: env, Account: "acct_c", To: "dev_new"}); err != nil {
			t.Fatal(err)
		}
		if be.migrated.Card != "" || strings.Contains(log.String(), "cards;") {
			t.Errorf("asked for a card with only one there: %+v\n%s", be.migrated, log)
		}
	})
}

func TestTokenDeleteAsks(t *testing.T) {
	tok := cards.Token{ID: "tok_1", Number: "9999990000000001", Function: cards.FunctionNFC, Card: "card_1", Status: cards.TokenActive}
	run := func(stdin string, tty, yes bool) (*fakeBackend, string, error) {
		be := &fakeBackend{tokens: []cards.Token{tok}}
		env, log := testEnv(be, stdin, tty)
		err := runTokenChange(context.Background(), &TokenChangeOptions{Env: env, Action: cards.ActionDelete, Token: "tok_1", Reason: "user", Yes: yes})
		return be, log.String(), err
	}
	if be, _, err := run("", false, false); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--yes") || len(be.changed) != 0 {
		t.Errorf("without a terminal or --yes: err = %v, changed %v", err, be.changed)
	}
	if be, log, err := run("n\n", true, false); err == nil || len(be.changed) != 0 || !strings.Contains(log, "9999990000000001") {
		t.Errorf("answered no: err = %v, changed %v, asked %q", err, be.changed, log)
	}
	if be, _, err := run("y\n", true, false); err != nil || len(be.changed) != 1 {
		t.Errorf("answered yes: err = %v, changed %v", err, be.changed)
	}
	if be, log, err := run("", false, true); err != nil || len(be.changed) != 1 || log != "" {
		t.Errorf("--yes: err = %v, changed %v, asked %q", err, be.changed, log)
	}
	// Suspending is undone by resume: no question.
	be := &fakeBackend{tokens: []cards.Token{tok}}
	env, _ := testEnv(be, "", false)
	if err := runTokenChange(context.Background(), &TokenChangeOptions{Env: env, Action: cards.ActionSuspend, Token: "tok_1", Reason: "lost"}); err != nil || len(be.changed) != 1 {
		t.Errorf("suspend: err = %v, changed %v", err, be.changed)
	}
}

func TestPromptsGiveUpOnInterrupt(t *testing.T) {
	ios, _, _, _ := Test()
	ios.SetTTY(true, true)
	ios.In = blockingReader{}
	done := make(chan struct{})
	ios.SetInterrupt(done)
	close(done)
	_, err := confirm(ios, "Go on?", "--yes")
	if ExitCode(err) != ExitInterrupted {
		t.Errorf("err = %v (exit %d), want interrupted (130)", err, ExitCode(err))
	}
}

type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }
