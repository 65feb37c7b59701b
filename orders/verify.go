package orders

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tagpay/tagpay/store"
)

// Verify checks the invariants of flow 1, for `ledger verify`: every order is paid at
// most once, by a transfer that exists and matches its amount, payer and payee; refunds
// never exceed what was paid and their transfers exist; each order uses its own reply;
// every order has its index entries under its payer, payee and tag, and every entry
// names an order of that party; every tag's index entries point at it; at most one live
// registration per UID. Admins only.
func Verify(tx *store.Tx) ([]store.Violation, error) {
	if err := tx.RequireRole(); err != nil {
		return nil, err
	}
	var out []store.Violation
	add := func(check, subject, format string, args ...any) {
		out = append(out, store.Violation{Check: check, Subject: subject, Message: fmt.Sprintf(format, args...)})
	}

	// Transfers that name an order, by kind: the order side is checked against these.
	payments := map[string][]store.Transfer{}
	refunds := map[string][]store.Transfer{}
	transfers := map[string]store.Transfer{}
	err := store.Each(tx, store.BucketTransfers, "", false, func(_ string, t store.Transfer) error {
		if !strings.HasPrefix(t.Ref, store.PrefixOrder+"_") {
			return nil
		}
		transfers[t.ID] = t
		switch t.Kind {
		case store.TransferPayment:
			payments[t.Ref] = append(payments[t.Ref], t)
		case store.TransferRefund:
			refunds[t.Ref] = append(refunds[t.Ref], t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	indexed := map[string]*indexEntries{}
	parties := map[string]string{}
	replyUse := map[string]string{}
	err = store.Each(tx, store.BucketOrders, "", false, func(key string, o Order) error {
		e := &indexEntries{}
		for i, p := range indexedBy(o) {
			// Parties recur across orders: one copy of each keeps a big ledger's check small.
			if q, ok := parties[p]; ok {
				p = q
			} else {
				parties[p] = p
			}
			e.by[i] = p
		}
		indexed[o.ID] = e
		if key != o.ID {
			add("order_key", key, "stored under the key of another id %s", o.ID)
		}
		if prev, dup := replyUse[o.Reply]; dup {
			add("reply_single_use", o.ID, "uses reply %s, already used by %s", o.Reply, prev)
		}
		replyUse[o.Reply] = o.ID
		var r ParsingReply
		if ok, err := tx.Get(store.BucketReplies, o.Reply, &r); err != nil {
			return err
		} else if !ok {
			add("order_reply", o.ID, "reply %s does not exist", o.Reply)
		} else if !r.Used {
			add("order_reply", o.ID, "reply %s is not marked used", o.Reply)
		}
		verifyPayment(o, payments[o.ID], transfers, add)
		verifyRefunds(o, refunds[o.ID], transfers, add)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range []map[string][]store.Transfer{payments, refunds} {
		for _, id := range sortedKeys(m) {
			if indexed[id] == nil {
				add("transfer_order", m[id][0].ID, "%s transfer names order %s, which does not exist", m[id][0].Kind, id)
			}
		}
	}

	if err := verifyOrderIndex(tx, indexed, add); err != nil {
		return nil, err
	}
	if err := verifyTags(tx, add); err != nil {
		return nil, err
	}
	return out, nil
}

type addFunc func(check, subject, format string, args ...any)

func verifyPayment(o Order, pays []store.Transfer, transfers map[string]store.Transfer, add addFunc) {
	paid := o.Status == OrderPaid || o.Status == OrderRefunded
	if len(pays) > 1 {
		add("order_paid_once", o.ID, "paid by %d transfers", len(pays))
	}
	if !paid {
		if o.Transfer != "" || len(pays) > 0 {
			add("order_payment", o.ID, "is %s but has a payment transfer", o.Status)
		}
		if len(o.Refunds) > 0 || o.Refunded.Amount != 0 {
			add("order_refunds", o.ID, "is %s but has refunds", o.Status)
		}
		return
	}
	if o.PaidAt == nil {
		add("order_payment", o.ID, "is %s without a payment time", o.Status)
	}
	t, ok := transfers[o.Transfer]
	switch {
	case o.Transfer == "" || !ok:
		add("order_payment", o.ID, "is %s but its payment transfer %q does not exist", o.Status, o.Transfer)
	case t.Kind != store.TransferPayment || t.Ref != o.ID:
		add("order_payment", o.ID, "transfer %s is a %s for %s, not the payment of this order", t.ID, t.Kind, t.Ref)
	case t.From != o.Payer || t.To != o.Payee || t.Amount != o.Amount:
		add("order_payment", o.ID, "transfer %s moves %s from %s to %s; the order is %s from %s to %s", t.ID, t.Amount, t.From, t.To, o.Amount, o.Payer, o.Payee)
	}
}

func verifyRefunds(o Order, refs []store.Transfer, transfers map[string]store.Transfer, add addFunc) {
	listed := map[string]bool{}
	var sum int64
	for _, id := range o.Refunds {
		listed[id] = true
		t, ok := transfers[id]
		switch {
		case !ok:
			add("order_refunds", o.ID, "refund transfer %s does not exist", id)
			continue
		case t.Kind != store.TransferRefund || t.Ref != o.ID:
			add("order_refunds", o.ID, "transfer %s is a %s for %s, not a refund of this order", t.ID, t.Kind, t.Ref)
		case t.From != o.Payee || t.To != o.Payer || t.Amount.Currency != o.Amount.Currency:
			add("order_refunds", o.ID, "refund transfer %s moves %s from %s to %s, not from payee to payer", t.ID, t.Amount, t.From, t.To)
		}
		sum += t.Amount.Amount
	}
	for _, t := range refs {
		if !listed[t.ID] {
			add("order_refunds", o.ID, "refund transfer %s is not recorded on the order", t.ID)
		}
	}
	if sum != o.Refunded.Amount {
		add("order_refunds", o.ID, "refunded %d minor units, its refund transfers sum to %d", o.Refunded.Amount, sum)
	}
	if o.Refunded.Amount > o.Amount.Amount {
		add("refund_within_payment", o.ID, "refunded %s of a payment of %s", o.Refunded, o.Amount)
	}
	whole := o.Refunded.Amount == o.Amount.Amount
	if (o.Status == OrderRefunded && !whole) || (o.Status == OrderPaid && whole) {
		add("order_refunds", o.ID, "status %s does not fit %s refunded of %s", o.Status, o.Refunded, o.Amount)
	}
}

// indexEntries are the ids an order is listed under (indexedBy), and which of its
// entries the index holds.
type indexEntries struct {
	by    [3]string
	found [3]bool
}

// verifyOrderIndex walks the order index against the orders: an order missing from it
// is missing from the lists of its payer, payee or tag.
func verifyOrderIndex(tx *store.Tx, orders map[string]*indexEntries, add addFunc) error {
	err := tx.ForEach(store.BucketOrderIndex, "", false, func(key string, _ []byte) error {
		word, rest, _ := strings.Cut(key, ":")
		slash := strings.LastIndexByte(rest, '/')
		party, id := rest[:max(slash, 0)], rest[slash+1:]
		e, ok := orders[id]
		if !ok {
			add("order_index", key, "names order %s, which does not exist", id)
			return nil
		}
		for i, w := range indexWords {
			if w == word && e.by[i] == party {
				e.found[i] = true
				return nil
			}
		}
		add("order_index", key, "names order %s, which is not of that party or tag", id)
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(orders) {
		for i, w := range indexWords {
			if !orders[id].found[i] {
				add("order_index", id, "has no index entry under its %s %q: its lists leave it out", w, orders[id].by[i])
			}
		}
	}
	return nil
}

func verifyTags(tx *store.Tx, add addFunc) error {
	liveByUID := map[string][]string{}
	tags := map[string]Tag{}
	err := store.Each(tx, store.BucketTags, "", false, func(key string, t Tag) error {
		tags[t.ID] = t
		if key != t.ID {
			add("tag_key", key, "stored under the key of another id %s", t.ID)
		}
		if id := tx.GetRaw(store.BucketTagIndex, refIndexKey(t.Ref)); string(id) != t.ID {
			add("tag_index", t.ID, "index entry of reference %s points at %q", t.Ref, id)
		}
		if t.live() {
			liveByUID[t.UID] = append(liveByUID[t.UID], t.ID)
			if id := tx.GetRaw(store.BucketTagIndex, uidIndexKey(t.UID)); string(id) != t.ID {
				add("tag_index", t.ID, "index entry of UID %s points at %q", t.UID, id)
			}
		}
		if t.Kind == TagSUN && tx.GetRaw(store.BucketSUNKeys, t.ID) == nil {
			add("sun_keys", t.ID, "SUN tag has no keys")
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, uid := range sortedKeys(liveByUID) {
		if ids := liveByUID[uid]; len(ids) > 1 {
			add("tag_uid_unique", uid, "%d live registrations: %s", len(ids), strings.Join(ids, ", "))
		}
	}
	return tx.ForEach(store.BucketTagIndex, "", false, func(key string, v []byte) error {
		t, ok := tags[string(v)]
		switch {
		case !ok:
			add("tag_index", key, "points at missing tag %s", v)
		case key != refIndexKey(t.Ref) && key != uidIndexKey(t.UID):
			add("tag_index", key, "points at tag %s, which has reference %s and UID %s", t.ID, t.Ref, t.UID)
		}
		return nil
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
