package cards

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/tagpay/tagpay/store"
)

const maxNameLen = 100

func loginKey(account, device string) string { return account + "/" + device }

// Login logs an account in on a device, creating the device on first sight. The device
// id is made by the client; a device may carry several accounts, each with its own
// login history, and only the accounts logged in on it can bind cards to it.
func (s *Service) Login(ctx context.Context, req LoginRequest) (Login, error) {
	var out Login
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		l, _, err := store.Idempotent(tx, req.IdempotencyKey, "device.login", req, func() (Login, error) {
			return s.login(tx, req)
		})
		out = l
		return err
	})
	return out, err
}

func (s *Service) login(tx *store.Tx, req LoginRequest) (Login, error) {
	acct, err := personAccount(tx, req.Account)
	if err != nil {
		return Login{}, err
	}
	if err := checkDeviceID(req.Device, "device"); err != nil {
		return Login{}, err
	}
	name, err := cleanName(req.Name, "name")
	if err != nil {
		return Login{}, err
	}
	now := s.now(tx)
	dev, found, err := loadDevice(tx, req.Device)
	if err != nil {
		return Login{}, err
	}
	if !found {
		dev = Device{ID: req.Device, Name: name, CreatedAt: now}
		if err := tx.Put(store.BucketDevices, dev.ID, dev); err != nil {
			return Login{}, err
		}
	}
	var l Login
	key := loginKey(acct.ID, dev.ID)
	found, err = tx.Get(store.BucketLogins, key, &l)
	if err != nil {
		return Login{}, err
	}
	if !found {
		// Every account keeps the name it gave the device and sees no other: the name
		// another payer gave a shared device is theirs, and one account cannot relabel
		// another's view.
		l = Login{Account: acct.ID, Device: dev.ID, FirstLogin: now}
	}
	if name != "" {
		l.DeviceName = name
	}
	l.LoggedIn = true
	l.LastLogin = now
	if err := tx.Put(store.BucketLogins, key, l); err != nil {
		return Login{}, err
	}
	return l, tx.Audit("device.login", dev.ID, map[string]string{"account": acct.ID})
}

// Logout logs the account out of the device; with no account, every account the caller
// may act for. It returns the logins it ended. Logging out twice is not an error.
func (s *Service) Logout(ctx context.Context, req LogoutRequest) ([]Login, error) {
	var out []Login
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		ls, _, err := store.Idempotent(tx, req.IdempotencyKey, "device.logout", req, func() ([]Login, error) {
			return s.logout(tx, req)
		})
		out = ls
		return err
	})
	return orEmpty(out), err
}

func (s *Service) logout(tx *store.Tx, req LogoutRequest) ([]Login, error) {
	if err := requireCardsRole(tx); err != nil {
		return nil, err
	}
	if err := checkDeviceID(req.Device, "device"); err != nil {
		return nil, err
	}
	var targets []Login
	if req.Account != "" {
		acct, err := personAccount(tx, req.Account)
		if err != nil {
			return nil, err
		}
		l, found, err := loadLogin(tx, acct.ID, req.Device)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, store.Errorf(store.KindNotFound, "login_not_found", "account %s has never logged in on device %s", acct.ID, req.Device).WithParam("device")
		}
		targets = append(targets, l)
	} else {
		// Whether the device exists is not the caller's to learn: a device on which none
		// of its accounts ever logged in answers as one that does not exist.
		actor := tx.Actor()
		err := store.Each(tx, store.BucketLogins, "", false, func(_ string, l Login) error {
			if l.Device == req.Device && actor.Owns(l.Account) {
				targets = append(targets, l)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			return nil, store.Errorf(store.KindNotFound, "login_not_found", "no account of this key has logged in on device %s", req.Device).WithParam("device")
		}
	}
	now := s.now(tx)
	out := []Login{}
	for _, l := range targets {
		if !l.LoggedIn {
			continue
		}
		l.LoggedIn = false
		at := now
		l.LastLogout = &at
		if err := tx.Put(store.BucketLogins, loginKey(l.Account, l.Device), l); err != nil {
			return nil, err
		}
		if err := tx.Audit("device.logout", l.Device, map[string]string{"account": l.Account}); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if req.Account != "" && len(out) == 0 {
		// Already logged out: say where the account stands rather than nothing.
		out = targets
	}
	return out, nil
}

// ListLogins is the account's login history, most recent login first: the devices a
// migration may take a card from. An empty account lists every login the caller may see.
func (s *Service) ListLogins(ctx context.Context, account string) ([]Login, error) {
	out := []Login{}
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if err := requireCardsRole(tx); err != nil {
			return err
		}
		prefix := ""
		if account != "" {
			acct, err := tx.Account(account)
			if err != nil {
				return err
			}
			prefix = acct.ID + "/"
		}
		actor := tx.Actor()
		return store.Each(tx, store.BucketLogins, prefix, false, func(_ string, l Login) error {
			if actor.Owns(l.Account) {
				out = append(out, l)
			}
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Login) int {
		if c := b.LastLogin.Compare(a.LastLogin); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Device, b.Device), cmp.Compare(a.Account, b.Account))
	})
	return out, err
}

func loadDevice(tx *store.Tx, id string) (Device, bool, error) {
	var d Device
	found, err := tx.Get(store.BucketDevices, id, &d)
	return d, found, err
}

func loadLogin(tx *store.Tx, account, device string) (Login, bool, error) {
	var l Login
	found, err := tx.Get(store.BucketLogins, loginKey(account, device), &l)
	return l, found, err
}

// loggedInNow reports whether account is logged in on device at this moment.
func loggedInNow(tx *store.Tx, account, device string) (bool, error) {
	l, found, err := loadLogin(tx, account, device)
	return found && l.LoggedIn, err
}

// cleanName trims a person-given name and refuses excess length, control and format
// characters (store.CheckText).
func cleanName(name, param string) (string, error) {
	name = strings.TrimSpace(name)
	if err := store.CheckText(param, name, maxNameLen); err != nil {
		return "", err
	}
	return name, nil
}
