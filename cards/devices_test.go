package cards

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

func TestLoginHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	phone, laptop := newDevice(), newDevice()
	start := e.clock.Now()

	first, err := e.s.Login(e.admin, LoginRequest{Account: alice, Device: phone, Name: "old phone"})
	if err != nil {
		t.Fatal(err)
	}
	if !first.LoggedIn || first.DeviceName != "old phone" || !first.FirstLogin.Equal(start) || !first.LastLogin.Equal(start) {
		t.Fatalf("first login = %+v", first)
	}
	e.clock.advance(time.Hour)
	e.login(alice, laptop)
	e.clock.advance(time.Hour)
	out, err := e.s.Logout(e.admin, LogoutRequest{Account: alice, Device: phone})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].LoggedIn || out[0].LastLogout == nil || !out[0].LastLogout.Equal(start.Add(2*time.Hour)) {
		t.Fatalf("logout = %+v", out)
	}
	e.clock.advance(time.Hour)
	again, err := e.s.Login(e.admin, LoginRequest{Account: alice, Device: phone})
	if err != nil {
		t.Fatal(err)
	}
	if !again.FirstLogin.Equal(start) || !again.LastLogin.Equal(start.Add(3*time.Hour)) || !again.LoggedIn || again.DeviceName != "old phone" {
		t.Fatalf("second login on the phone = %+v; want first login kept, last login moved, name kept", again)
	}

	history, err := e.s.ListLogins(e.admin, alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 || history[0].Device != phone || history[1].Device != laptop {
		t.Fatalf("history = %+v; want phone (latest login) then laptop", history)
	}
	if history[0].LastLogout == nil || !history[1].LoggedIn {
		t.Fatalf("history lost the logout or the laptop login: %+v", history)
	}

	// Another account's logins are not part of alice's history.
	bob := e.person("bob")
	e.login(bob, laptop)
	history, err = e.s.ListLogins(e.payer(alice), alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 {
		t.Fatalf("alice's history has %d entries after bob logged in on her laptop, want 2", len(history))
	}
}

func TestLoginReplaysWithItsIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	req := LoginRequest{Account: alice, Device: newDevice(), IdempotencyKey: "login-1"}
	first, err := e.s.Login(e.admin, req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Minute)
	second, err := e.s.Login(e.admin, req)
	if err != nil {
		t.Fatal(err)
	}
	if !second.LastLogin.Equal(first.LastLogin) {
		t.Fatalf("replayed login moved the last login from %s to %s", first.LastLogin, second.LastLogin)
	}
	req.Device = newDevice()
	_, err = e.s.Login(e.admin, req)
	wantErr(t, err, store.KindConflict, "idempotency_key_reused")
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	shop := e.account("shop", store.AccountMerchant)
	tests := []struct {
		name string
		req  LoginRequest
		kind store.Kind
		code string
	}{
		{"device id not made by NewID", LoginRequest{Account: alice, Device: "../etc/passwd"}, store.KindInvalid, "invalid_device"},
		{"device id too long", LoginRequest{Account: alice, Device: strings.Repeat("a", 65)}, store.KindInvalid, "invalid_device"},
		{"device id with a space", LoginRequest{Account: alice, Device: "my phone"}, store.KindInvalid, "invalid_device"},
		{"unknown account", LoginRequest{Account: store.NewID(store.PrefixAccount), Device: newDevice()}, store.KindNotFound, "account_not_found"},
		{"merchant account", LoginRequest{Account: shop, Device: newDevice()}, store.KindInvalid, "account_not_person"},
		{"control characters in the name", LoginRequest{Account: alice, Device: newDevice(), Name: "evil\x1b[2J"}, store.KindInvalid, "invalid_name"},
		{"right-to-left override in the name", LoginRequest{Account: alice, Device: newDevice(), Name: "phone\u202Eenohp"}, store.KindInvalid, "invalid_name"},
		{"zero-width space in the name", LoginRequest{Account: alice, Device: newDevice(), Name: "pho\u200Bne"}, store.KindInvalid, "invalid_name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.Login(e.admin, tc.req)
			wantErr(t, err, tc.kind, tc.code)
		})
	}
	t.Run("payer key of another account", func(t *testing.T) {
		bob := e.person("bob")
		_, err := e.s.Login(e.payer(bob), LoginRequest{Account: alice, Device: newDevice()})
		wantErr(t, err, store.KindForbidden, "forbidden")
	})
	t.Run("merchant key", func(t *testing.T) {
		_, err := e.s.Login(e.merchantKey(shop), LoginRequest{Account: alice, Device: newDevice()})
		wantErr(t, err, store.KindForbidden, "forbidden")
		_, err = e.s.ListLogins(e.merchantKey(shop), "")
		wantErr(t, err, store.KindForbidden, "forbidden")
	})
	logins, err := e.s.ListLogins(e.admin, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 0 {
		t.Fatalf("refused logins left %d records", len(logins))
	}
}

func TestLogoutOfEveryAccountOnADevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.person("alice"), e.person("bob")
	shared := e.login(alice)
	e.login(bob, shared)

	// A payer key logs out only the accounts it acts for.
	out, err := e.s.Logout(e.payer(bob), LogoutRequest{Device: shared})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Account != bob {
		t.Fatalf("bob's key logged out %+v, want only bob", out)
	}
	out, err = e.s.Logout(e.admin, LogoutRequest{Device: shared})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Account != alice {
		t.Fatalf("admin logout of the device ended %+v, want alice's login (bob was already out)", out)
	}
	// Logging out again is no error and says the account is out.
	out, err = e.s.Logout(e.admin, LogoutRequest{Account: alice, Device: shared})
	if err != nil || len(out) != 1 || out[0].LoggedIn {
		t.Fatalf("second logout = %+v, %v", out, err)
	}

	_, err = e.s.Logout(e.admin, LogoutRequest{Account: alice, Device: newDevice()})
	wantErr(t, err, store.KindNotFound, "login_not_found")
	_, err = e.s.Logout(e.admin, LogoutRequest{Device: newDevice()})
	wantErr(t, err, store.KindNotFound, "login_not_found")
}

// A payer learns nothing of the other accounts on a device: not the name another payer
// gave it, and not whether it exists at all.
func TestDeviceSharedByPayersLeaksNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.person("alice"), e.person("bob")
	shared := newDevice()
	if _, err := e.s.Login(e.payer(alice), LoginRequest{Account: alice, Device: shared, Name: "Alice's secret phone"}); err != nil {
		t.Fatal(err)
	}
	l, err := e.s.Login(e.payer(bob), LoginRequest{Account: bob, Device: shared})
	if err != nil {
		t.Fatal(err)
	}
	if l.DeviceName != "" {
		t.Errorf("bob's login reply carries device name %q, given by another payer", l.DeviceName)
	}
	all, err := e.s.ListLogins(e.payer(bob), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.Account != bob || strings.Contains(l.DeviceName, "Alice") {
			t.Errorf("bob lists %+v", l)
		}
	}

	// Carol never logged in anywhere: a device that exists (alice's and bob's) and one that
	// does not answer her alike.
	carol := e.person("carol")
	for _, acct := range []string{"", carol} {
		_, errExisting := e.s.Logout(e.payer(carol), LogoutRequest{Account: acct, Device: shared})
		_, errMissing := e.s.Logout(e.payer(carol), LogoutRequest{Account: acct, Device: newDevice()})
		if errExisting == nil || errMissing == nil {
			t.Fatalf("account %q: logout = %v / %v, want errors", acct, errExisting, errMissing)
		}
		a, b := strings.ReplaceAll(errExisting.Error(), shared, "D"), errMissing.Error()
		if store.KindOf(errExisting) != store.KindOf(errMissing) || !strings.HasPrefix(b, a[:strings.Index(a, "D")]) {
			t.Errorf("account %q: logout of an existing device says %q, of a missing one %q", acct, errExisting, errMissing)
		}
		var e1, e2 *store.Error
		if errors.As(errExisting, &e1) && errors.As(errMissing, &e2) && e1.Code != e2.Code {
			t.Errorf("account %q: codes %s and %s differ", acct, e1.Code, e2.Code)
		}
	}
}
