// Package cards holds flows 2 and 3: devices and the accounts logged in on them, resource
// cards, payment functions and their tokens (US12198126B2), and migrating a card from a
// device the account was logged in on to the one in hand (US11875336B2).
package cards

import (
	"encoding/json"
	"time"
)

// Device is an installation of a payer's app (here: of tagpay).
type Device struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Login is one account's history on one device.
type Login struct {
	Account    string     `json:"account"`
	Device     string     `json:"device"`
	DeviceName string     `json:"device_name,omitempty"`
	LoggedIn   bool       `json:"logged_in"`
	FirstLogin time.Time  `json:"first_login"`
	LastLogin  time.Time  `json:"last_login"`
	LastLogout *time.Time `json:"last_logout,omitempty"`
}

// LoginRequest logs an account in on a device, creating the device on first sight.
type LoginRequest struct {
	Account        string `json:"account"`
	Device         string `json:"device"`
	Name           string `json:"name,omitempty"`
	IdempotencyKey string `json:"-"`
}

// LogoutRequest logs the account out of a device (all accounts when Account is empty).
type LogoutRequest struct {
	Account        string `json:"account,omitempty"`
	Device         string `json:"device"`
	IdempotencyKey string `json:"-"`
}

// CardStatus is where a card stands.
type CardStatus string

const (
	CardActive  CardStatus = "active"
	CardRemoved CardStatus = "removed"
)

// Card is a resource card of an account, bound to one device. Its PAN is kept only as
// the last four digits and a keyed hash.
type Card struct {
	ID        string     `json:"id"`
	Account   string     `json:"account"`
	Label     string     `json:"label"`
	PANLast4  string     `json:"pan_last4,omitempty"`
	Device    string     `json:"device"`
	Status    CardStatus `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// AddCardRequest binds a new card to a device where the account is logged in.
type AddCardRequest struct {
	Account        string `json:"account"`
	Label          string `json:"label"`
	PAN            string `json:"pan,omitempty"` // validated (Luhn), never stored whole
	Device         string `json:"device"`
	IdempotencyKey string `json:"-"`
}

// Function is a way to pay with a card.
type Function string

const (
	FunctionNFC    Function = "nfc"
	FunctionQR     Function = "qr"
	FunctionOnline Function = "online"
	FunctionInApp  Function = "inapp"
)

// Functions lists the valid function identifiers in a stable order.
var Functions = []Function{FunctionNFC, FunctionQR, FunctionOnline, FunctionInApp}

// TokenStatus is where a token stands; deleted is final.
type TokenStatus string

const (
	TokenActive    TokenStatus = "active"
	TokenSuspended TokenStatus = "suspended"
	TokenDeleted   TokenStatus = "deleted"
)

// Reason says why a token changed state.
type Reason string

const (
	ReasonLost     Reason = "lost"
	ReasonStolen   Reason = "stolen"
	ReasonFraud    Reason = "fraud"
	ReasonUser     Reason = "user"
	ReasonMigrated Reason = "device_migrated"
	ReasonExpired  Reason = "expired" // set by activation when it replaces an expired token
)

// Token is a target payment identifier: one per card, device and function.
type Token struct {
	ID        string      `json:"id"`
	Number    string      `json:"number"` // 16-digit token (nfc, online, inapp) or QR payment code
	Card      string      `json:"card"`
	Account   string      `json:"account"`
	Device    string      `json:"device"`
	Function  Function    `json:"function"`
	Status    TokenStatus `json:"status"`
	Reason    Reason      `json:"reason,omitempty"`
	ExpiresAt time.Time   `json:"expires_at"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// ActivateRequest asks for several payment functions on one card at once.
type ActivateRequest struct {
	Card           string     `json:"card"`
	Functions      []Function `json:"functions"`
	IdempotencyKey string     `json:"-"`
}

// Activation is the reply: one target payment identifier per requested function.
type Activation struct {
	Card        string  `json:"card"`
	Identifiers []Token `json:"identifiers"`
}

// DeactivateRequest deletes the card's tokens for the functions.
type DeactivateRequest struct {
	Card           string     `json:"card"`
	Functions      []Function `json:"functions"`
	IdempotencyKey string     `json:"-"`
}

// TokenAction changes a token's state.
type TokenAction string

const (
	ActionSuspend TokenAction = "suspend"
	ActionResume  TokenAction = "resume"
	ActionDelete  TokenAction = "delete"
)

// TokenStatusRequest suspends, resumes or deletes a token.
type TokenStatusRequest struct {
	Token          string      `json:"token"` // id or number
	Action         TokenAction `json:"action"`
	Reason         Reason      `json:"reason"`
	IdempotencyKey string      `json:"-"`
}

// MigrateRequest moves the card bound to From onto To, both devices of Account.
type MigrateRequest struct {
	Account        string `json:"account"`
	From           string `json:"from"`
	To             string `json:"to"`
	Card           string `json:"card,omitempty"` // needed when From holds several cards
	IdempotencyKey string `json:"-"`
}

// Migration is what a migration did.
type Migration struct {
	Card    string  `json:"card"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Deleted []Token `json:"deleted"`
	Issued  []Token `json:"issued"`
	Event   string  `json:"event"`
}

// UnmarshalJSON also reads tokens stored before the lifecycle word became "status".
func (t *Token) UnmarshalJSON(b []byte) error {
	type plain Token
	var v struct {
		plain
		State TokenStatus `json:"state"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = Token(v.plain)
	if t.Status == "" {
		t.Status = v.State
	}
	return nil
}
