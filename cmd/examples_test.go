package cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// Examples in help are run as written. They name the things they work on with shell
// variables, which a reader sets from the output of earlier commands and which this test
// sets from a prelude on a throwaway ledger:
//
//	$MERCHANT  a merchant account (EUR)         $PAYER  a funded person account (EUR)
//	$CARD      a card of $PAYER on this device  $TOKEN  the id of its active nfc token
//	$TAG       a tag registered to $MERCHANT    $UID, $CONTENT  that tag's UID and content
//	$ORDER     an order $PAYER paid at $TAG     $KEY    a merchant API key's id
//	$WORK      a scratch folder, the working directory, holding card.json ({})
//
// This device is "this-laptop", where $PAYER is logged in; $PAYER was logged in on
// "old-phone" before, and a card of it is still bound there. Each command's examples
// run in order on a fresh prelude; stdin holds a card number for --pan -.
//
// A line holding "…" is a placeholder that no prelude can fill; such lines, pipes, and
// the commands of exampleSkips are logged and not run, and the commands of
// mustHaveExamples fail the test when they have no Example at all.

// exampleSkips are commands whose examples need what a unit test has not: a reader, a
// server or a process that runs until interrupted.
var exampleSkips = map[string]string{
	"serve": "runs until interrupted", "demo": "starts its own server and emulated tags",
	"bench pay": "needs a server", "reader list": "needs PC/SC", "reader watch": "needs PC/SC",
	"tag read": "needs a reader", "tag dump": "needs a reader", "tag write": "needs a reader",
	"tag diagnose": "needs a reader", "tag emulate": "needs vpcd", "tag provision": "needs a reader",
	"pay": "reads a tag unless given one", "ndef decode": "its second example pipes a reader",
	"listen": "runs until interrupted", "events follow": "runs until interrupted",
	"events wait": "waits for an event another command makes", "webhook test": "delivers to an endpoint that must listen",
	"ledger copy": "needs PostgreSQL", "tag protect": "needs a reader", "tag unprotect": "needs a reader",
}

// mustHaveExamples are the commands this package promises an Example for.
var mustHaveExamples = []string{
	"account create", "account list", "account show", "account fund",
	"ledger verify", "ledger journal", "config show", "completion",
	"device whoami", "device login", "device logout", "device list",
	"card add", "card list", "card show", "card activate", "card deactivate", "card migrate",
	"token list", "token show", "token suspend", "token resume", "token delete",
	"key create", "key list", "key revoke", "audit list",
}

func TestExamplesRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a ledger per command")
	}
	ios, _, _, _ := Test()
	root := NewRootCmd(NewFactory(ios, BuildInfo{}))
	have := map[string]bool{}
	var leaves []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.HasParent() && !c.Hidden && c.Name() != "help" {
			leaves = append(leaves, c)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for _, c := range leaves {
		path := strings.TrimPrefix(c.CommandPath(), "tagpay ")
		have[path] = strings.TrimSpace(c.Example) != ""
		if !have[path] {
			continue
		}
		if why, skip := exampleSkips[path]; skip {
			t.Logf("%s: examples not run (%s)", path, why)
			continue
		}
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			env := examplePrelude(t)
			wd, err := os.Getwd() // the prelude's folder
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(c.Example, "\n") {
				line = strings.TrimSpace(line)
				if line == "" {
					continue
				}
				if strings.Contains(line, "…") || strings.Contains(line, "|") && !strings.Contains(line, "'") {
					t.Logf("not run (placeholder or pipe): %s", line)
					continue
				}
				args, ok := shellWords(line, env)
				if !ok || len(args) == 0 || args[0] != "tagpay" {
					t.Logf("not run (not a plain tagpay command): %s", line)
					continue
				}
				// An example names the paths of a real install (/srv, /etc): run it on
				// the same paths under the test's folder, never on the machine's.
				for i, a := range args {
					if strings.HasPrefix(a, "/srv/") || strings.HasPrefix(a, "/etc/") {
						args[i] = filepath.Join(wd, a)
						if err := os.MkdirAll(filepath.Dir(args[i]), 0o700); err != nil {
							t.Fatal(err)
						}
					}
				}
				ios, in, out, errOut := Test()
				in.WriteString("4111 1111 1111 1111\n")
				if code := Main(context.Background(), args[1:], ios, BuildInfo{Version: "v0.0.0-test"}); code != 0 {
					t.Errorf("%s\nexited %d: %s%s", line, code, out, errOut)
				}
			}
		})
	}
	for _, p := range mustHaveExamples {
		if !have[p] {
			t.Errorf("tagpay %s has no Example", p)
		}
	}
}

// examplePrelude makes the throwaway ledger and configuration the examples run on, and
// returns the variables they use.
func examplePrelude(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "card.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "ledger.db")
	t.Setenv("TAGPAY_DB", db)
	t.Setenv("TAGPAY_DEVICE_ID", "this-laptop")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("HOME", dir)
	for _, v := range []string{"TAGPAY_SERVER", "TAGPAY_TOKEN", "TAGPAY_OUTPUT", "TAGPAY_CONFIG", "COLUMNS"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	ctx := context.Background()
	// The key file where the commands look for it by default.
	be, err := backend.OpenLocal(db, backend.LocalOptions{Store: store.Options{KeysPath: filepath.Join(dir, "config", "tagpay", "keys.json")}})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	shop, err := be.CreateAccount(ctx, store.CreateAccountRequest{Name: "Corner Café", Kind: store.AccountMerchant, Currency: "EUR"})
	must(err)
	payer, err := be.CreateAccount(ctx, store.CreateAccountRequest{Name: "Alice", Kind: store.AccountPerson, Currency: "EUR"})
	must(err)
	_, err = be.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "100"})
	must(err)
	_, err = be.Login(ctx, cards.LoginRequest{Account: payer.ID, Device: "old-phone", Name: "old phone"})
	must(err)
	old, err := be.AddCard(ctx, cards.AddCardRequest{Account: payer.ID, Label: "Old Visa", Device: "old-phone"})
	must(err)
	_, err = be.ActivateCard(ctx, cards.ActivateRequest{Card: old.ID, Functions: []cards.Function{cards.FunctionNFC}})
	must(err)
	_, err = be.Login(ctx, cards.LoginRequest{Account: payer.ID, Device: "this-laptop", Name: "laptop"})
	must(err)
	card, err := be.AddCard(ctx, cards.AddCardRequest{Account: payer.ID, Label: "Visa", PAN: "4111111111111111", Device: "this-laptop"})
	must(err)
	act, err := be.ActivateCard(ctx, cards.ActivateRequest{Card: card.ID, Functions: []cards.Function{cards.FunctionNFC, cards.FunctionOnline}})
	must(err)
	tag, err := be.RegisterTag(ctx, orders.RegisterRequest{UID: "04A1B2C3D4E5F6", Merchant: shop.ID, Label: "Counter"})
	must(err)
	receipt, err := be.Tap(ctx, orders.TapRequest{UID: tag.UID, Content: tag.Content, Payer: payer.ID, Amount: "3.50"})
	must(err)
	key, err := be.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleMerchant, Account: shop.ID})
	must(err)
	return map[string]string{
		"MERCHANT": shop.ID, "PAYER": payer.ID, "CARD": card.ID, "TOKEN": act.Identifiers[0].ID,
		"TAG": tag.Ref, "UID": tag.UID, "CONTENT": tag.Content, "ORDER": receipt.Order.ID,
		"KEY": key.ID, "WORK": dir,
	}
}

// shellWords splits a line as a POSIX shell would for the simple commands of examples:
// single and double quotes, $VAR and ${VAR} (not inside single quotes), and a trailing
// "> FILE" redirection, which it drops. Anything else shell-like reports !ok.
func shellWords(line string, env map[string]string) ([]string, bool) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	expand := func(i int) (int, bool) {
		name, j := "", i+1
		if j < len(line) && line[j] == '{' {
			k := strings.IndexByte(line[j:], '}')
			if k < 0 {
				return i, false
			}
			name, j = line[j+1:j+k], j+k+1
		} else {
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z' || line[j] >= 'a' && line[j] <= 'z' || line[j] >= '0' && line[j] <= '9') {
				j++
			}
			name = line[i+1 : j]
		}
		v, ok := env[name]
		if !ok {
			return i, false
		}
		cur.WriteString(v)
		return j, true
	}
	for i := 0; i < len(line); {
		ch := line[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
			i++
		case quote == '"':
			switch ch {
			case '"':
				quote = 0
				i++
			case '$':
				j, ok := expand(i)
				if !ok {
					return nil, false
				}
				i = j
			default:
				cur.WriteByte(ch)
				i++
			}
		case ch == '\'' || ch == '"':
			quote, inWord = ch, true
			i++
		case ch == '$':
			if i+1 < len(line) && line[i+1] == '(' {
				return nil, false
			}
			j, ok := expand(i)
			if !ok {
				return nil, false
			}
			i, inWord = j, true
		case ch == '#' && !inWord:
			// A comment runs to the end of the line.
			return words, true
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case ch == '>':
			// The output goes to a file in a shell; here it is dropped.
			if inWord {
				words = append(words, cur.String())
			}
			return words, quote == 0
		case strings.IndexByte("|&;<`()", ch) >= 0:
			return nil, false
		default:
			cur.WriteByte(ch)
			inWord = true
			i++
		}
	}
	if quote != 0 {
		return nil, false
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}
