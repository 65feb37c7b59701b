package store

import (
	"context"
	"slices"
)

// Role is what an API key may do.
type Role string

const (
	RoleAdmin    Role = "admin"    // everything
	RoleMerchant Role = "merchant" // its merchant accounts, their tags, orders paid to them
	RolePayer    Role = "payer"    // its account, devices, cards, tokens, payments from it
)

// ValidRole reports whether r names a role.
func ValidRole(r Role) bool { return r == RoleAdmin || r == RoleMerchant || r == RolePayer }

// Actor is who performs a request: the local user of a ledger file (admin), or the
// holder of an API key on a server.
type Actor struct {
	ID       string   `json:"id"` // key id, or "local"
	Role     Role     `json:"role"`
	Accounts []string `json:"accounts,omitempty"`
}

// LocalActor is the owner of a ledger file on their own machine.
var LocalActor = Actor{ID: "local", Role: RoleAdmin}

type actorKey struct{}

// WithActor attaches the actor of a request to ctx.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor attached to ctx, the local admin when none is.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return LocalActor
}

// Owns reports whether the actor may act for account id.
func (a Actor) Owns(id string) bool {
	return a.Role == RoleAdmin || slices.Contains(a.Accounts, id)
}

// Actor is who runs this transaction.
func (tx *Tx) Actor() Actor { return ActorFrom(tx.ctx) }

// RequireOwner refuses unless the actor may act for every one of the accounts.
func (tx *Tx) RequireOwner(accountIDs ...string) error {
	a := tx.Actor()
	for _, id := range accountIDs {
		if !a.Owns(id) {
			return Errorf(KindForbidden, "forbidden", "this %s key may not act for account %s", a.Role, id)
		}
	}
	return nil
}

// RequireRole refuses unless the actor has one of the roles.
func (tx *Tx) RequireRole(roles ...Role) error {
	a := tx.Actor()
	if a.Role == RoleAdmin || slices.Contains(roles, a.Role) {
		return nil
	}
	return Errorf(KindForbidden, "forbidden", "a %s key may not do this", a.Role)
}
