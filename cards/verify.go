package cards

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tagpay/tagpay/store"
)

// Verify checks the invariants of devices, cards and tokens, for `ledger verify`: every
// token number is well formed (16-digit Luhn, or an 18-digit Luhn QR code), unique, and
// indexed both ways; tokens belong to existing cards of the same account, and live ones
// to live cards on the card's device; at most one active token per card, device and
// function; each card sits on a device its account has logged in on. Admins only.
func Verify(tx *store.Tx) ([]store.Violation, error) {
	if err := tx.RequireRole(); err != nil {
		return nil, err
	}
	v := &violations{}

	devices := map[string]bool{}
	err := store.Each(tx, store.BucketDevices, "", false, func(key string, d Device) error {
		if key != d.ID || !ValidDeviceID(d.ID) {
			v.add("device_key", key, "stored under a key that is not its id %q", d.ID)
		}
		devices[key] = true
		return nil
	})
	if err != nil {
		return nil, err
	}

	logins := map[string]bool{}
	err = store.Each(tx, store.BucketLogins, "", false, func(key string, l Login) error {
		if key != loginKey(l.Account, l.Device) {
			v.add("login_key", key, "stored under a key other than %s", loginKey(l.Account, l.Device))
		}
		if _, err := tx.AccountUnchecked(l.Account); err != nil {
			v.add("login_account", key, "account %s does not exist", l.Account)
		}
		if !devices[l.Device] {
			v.add("login_device", key, "device %s does not exist", l.Device)
		}
		logins[key] = true
		return nil
	})
	if err != nil {
		return nil, err
	}

	cards := map[string]cardRecord{}
	err = store.Each(tx, store.BucketCards, "", false, func(key string, c cardRecord) error {
		if key != c.ID {
			v.add("card_key", key, "stored under the key of another id %s", c.ID)
		}
		if _, err := tx.AccountUnchecked(c.Account); err != nil {
			v.add("card_account", key, "account %s does not exist", c.Account)
		}
		if !devices[c.Device] {
			v.add("card_device", key, "bound to device %s, which does not exist", c.Device)
		}
		if !logins[loginKey(c.Account, c.Device)] {
			v.add("card_device_login", key, "bound to device %s, where account %s has never logged in", c.Device, c.Account)
		}
		cards[key] = c
		return nil
	})
	if err != nil {
		return nil, err
	}

	numbers := map[string]string{} // number → first token id seen with it
	active := map[string]string{}  // card/device/function → active token id
	err = store.Each(tx, store.BucketTokens, "", false, func(key string, t Token) error {
		if key != t.ID {
			v.add("token_key", key, "stored under the key of another id %s", t.ID)
		}
		checkNumber(v, t)
		if other, dup := numbers[t.Number]; dup {
			v.add("token_unique", t.ID, "has the same number as token %s", other)
		} else {
			numbers[t.Number] = t.ID
		}
		if id := tx.GetRaw(store.BucketTokenIndex, t.Number); string(id) != t.ID {
			v.add("token_index", t.ID, "its number is indexed to %q", id)
		}
		if !slices.Contains(Functions, t.Function) {
			v.add("token_function", t.ID, "unknown function %q", t.Function)
		}
		if t.Status != TokenActive && t.Status != TokenSuspended && t.Status != TokenDeleted {
			v.add("token_state", t.ID, "unknown state %q", t.Status)
		}
		c, ok := cards[t.Card]
		if !ok {
			v.add("token_card", t.ID, "card %s does not exist", t.Card)
			return nil
		}
		if t.Account != c.Account {
			v.add("token_account", t.ID, "belongs to account %s but its card to %s", t.Account, c.Account)
		}
		if !slices.Contains(c.Tokens, t.ID) {
			v.add("token_listed", t.ID, "card %s does not list it", c.ID)
		}
		if t.Status == TokenDeleted {
			return nil
		}
		if c.Status != CardActive {
			v.add("token_live_card", t.ID, "is %s but card %s is %s", t.Status, c.ID, c.Status)
		}
		if t.Device != c.Device {
			v.add("token_device", t.ID, "is %s on device %s but card %s is on %s", t.Status, t.Device, c.ID, c.Device)
		}
		if t.Status == TokenActive {
			slot := t.Card + "/" + t.Device + "/" + string(t.Function)
			if other, dup := active[slot]; dup {
				v.add("one_active_token", t.ID, "card %s has another active %s token %s on device %s", t.Card, t.Function, other, t.Device)
			} else {
				active[slot] = t.ID
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	err = tx.ForEach(store.BucketTokenIndex, "", false, func(number string, id []byte) error {
		if numbers[number] == "" {
			v.add("token_index", number, "indexes token %s, which does not exist or has another number", id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	for _, id := range slices.Sorted(maps.Keys(cards)) {
		c := cards[id]
		seen := map[string]bool{}
		for _, tid := range c.Tokens {
			if seen[tid] {
				v.add("card_tokens", id, "lists token %s twice", tid)
			}
			seen[tid] = true
			var t Token
			found, err := tx.Get(store.BucketTokens, tid, &t)
			if err != nil {
				return nil, err
			}
			if !found || t.Card != id {
				v.add("card_tokens", id, "lists token %s, which does not exist or belongs to another card", tid)
			}
		}
	}
	return v.out, nil
}

// checkNumber checks a token number's shape. Token numbers, unlike PANs, are shown to
// their owners anyway, so the violation names the number to help find the record.
func checkNumber(v *violations, t Token) {
	want := numberLen(t.Function)
	if len(t.Number) != want || !LuhnValid(t.Number) {
		v.add("token_number", t.ID, "number %q is not %d digits passing the Luhn check", t.Number, want)
	}
}

type violations struct{ out []store.Violation }

func (v *violations) add(check, subject, format string, args ...any) {
	v.out = append(v.out, store.Violation{Check: check, Subject: subject, Message: fmt.Sprintf(format, args...)})
}
