package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func mustAccount(t *testing.T, db *DB, kind AccountKind) Account {
	t.Helper()
	a, err := db.CreateAccount(context.Background(), CreateAccountRequest{Name: string(kind), Kind: kind, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCreateKeyThenAuthenticate(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		merchant := mustAccount(t, db, AccountMerchant)
		person := mustAccount(t, db, AccountPerson)

		tests := []struct {
			name    string
			req     CreateKeyRequest
			accts   []string
			errCode string
		}{
			{"admin", CreateKeyRequest{Role: RoleAdmin}, nil, ""},
			{"merchant", CreateKeyRequest{Role: RoleMerchant, Account: merchant.ID}, []string{merchant.ID}, ""},
			{"payer", CreateKeyRequest{Role: RolePayer, Account: person.ID}, []string{person.ID}, ""},
			{"unknown role", CreateKeyRequest{Role: "root"}, nil, "invalid_role"},
			{"admin with account", CreateKeyRequest{Role: RoleAdmin, Account: person.ID}, nil, "invalid_account"},
			{"merchant without account", CreateKeyRequest{Role: RoleMerchant}, nil, "missing_account"},
			{"merchant key for a person", CreateKeyRequest{Role: RoleMerchant, Account: person.ID}, nil, "invalid_account"},
			{"payer key for a merchant", CreateKeyRequest{Role: RolePayer, Account: merchant.ID}, nil, "invalid_account"},
			{"account that does not exist", CreateKeyRequest{Role: RolePayer, Account: NewID(PrefixAccount)}, nil, "account_not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k, err := db.CreateKey(ctx, tt.req)
				if tt.errCode != "" {
					if CodeOf(err) != tt.errCode {
						t.Fatalf("CreateKey error = %v (code %q), want code %q", err, CodeOf(err), tt.errCode)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(k.Secret, SecretPrefix) || !strings.HasPrefix(k.Secret, k.Prefix) {
					t.Fatalf("secret %q does not start with %q and its prefix %q", k.Secret, SecretPrefix, k.Prefix)
				}
				actor, err := db.Authenticate(ctx, k.Secret)
				if err != nil {
					t.Fatal(err)
				}
				if actor.ID != k.ID || actor.Role != tt.req.Role || strings.Join(actor.Accounts, ",") != strings.Join(tt.accts, ",") {
					t.Fatalf("actor = %+v, want id %s role %s accounts %v", actor, k.ID, tt.req.Role, tt.accts)
				}
			})
		}
	})
}

func TestSecretIsNeverStored(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		k, err := db.CreateKey(ctx, CreateKeyRequest{Role: RoleAdmin, IdempotencyKey: "first-admin"})
		if err != nil {
			t.Fatal(err)
		}
		secretPart := strings.TrimPrefix(k.Secret, SecretPrefix)
		err = db.View(ctx, func(tx *Tx) error {
			for _, b := range allBuckets {
				if err := tx.ForEach(b, "", false, func(key string, v []byte) error {
					if strings.Contains(key, secretPart) || strings.Contains(string(v), secretPart) {
						t.Errorf("bucket %s key %s holds the secret", b, key)
					}
					return nil
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		again, err := db.CreateKey(ctx, CreateKeyRequest{Role: RoleAdmin, IdempotencyKey: "first-admin"})
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != k.ID || again.Secret != "" {
			t.Fatalf("replay = id %s secret %q, want id %s and no secret", again.ID, again.Secret, k.ID)
		}
	})
}

func TestAuthenticateRefuses(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		k, err := db.CreateKey(ctx, CreateKeyRequest{Role: RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		revoked, err := db.CreateKey(ctx, CreateKeyRequest{Role: RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.RevokeKey(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, secret, code string
		}{
			{"missing", "", "missing_api_key"},
			{"no prefix", strings.TrimPrefix(k.Secret, SecretPrefix), "malformed_api_key"},
			{"too short", k.Secret[:20], "malformed_api_key"},
			{"bad characters", k.Secret[:len(k.Secret)-1] + "!", "malformed_api_key"},
			{"unknown", newSecret(), "unknown_api_key"},
			{"revoked", revoked.Secret, "revoked_api_key"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.Authenticate(ctx, tt.secret)
				if KindOf(err) != KindUnauthorized || CodeOf(err) != tt.code {
					t.Fatalf("Authenticate = %v (kind %s, code %q), want unauthorized %q", err, KindOf(err), CodeOf(err), tt.code)
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Fatalf("error %q repeats the secret", err)
				}
			})
		}
	})
}

func TestKeyManagementIsForAdmins(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		person := mustAccount(t, db, AccountPerson)
		payer := WithActor(context.Background(), Actor{ID: "key_payer", Role: RolePayer, Accounts: []string{person.ID}})
		admin, err := db.CreateKey(context.Background(), CreateKeyRequest{Role: RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func() error{
			"create": func() error {
				_, err := db.CreateKey(payer, CreateKeyRequest{Role: RoleAdmin})
				return err
			},
			"list": func() error {
				_, err := db.ListKeys(payer, Page{})
				return err
			},
			"revoke": func() error {
				_, err := db.RevokeKey(payer, admin.ID)
				return err
			},
		}
		for name, call := range calls {
			if err := call(); KindOf(err) != KindForbidden {
				t.Errorf("%s by a payer: %v, want forbidden", name, err)
			}
		}
		keys, err := db.ListKeys(context.Background(), Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].RevokedAt != nil {
			t.Fatalf("keys after refused calls = %+v, want the one live admin key", keys)
		}
	})
}

func TestRevokeKey(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		k, err := db.CreateKey(ctx, CreateKeyRequest{Role: RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		first, err := db.RevokeKey(ctx, k.ID)
		if err != nil || first.RevokedAt == nil {
			t.Fatalf("RevokeKey = %+v, %v; want a revocation time", first, err)
		}
		second, err := db.RevokeKey(ctx, k.ID)
		if err != nil || !second.RevokedAt.Equal(*first.RevokedAt) {
			t.Fatalf("second RevokeKey = %+v, %v; want the first revocation kept", second, err)
		}
		for _, id := range []string{"../keys", "key_", NewID(PrefixKey)} {
			if _, err := db.RevokeKey(ctx, id); KindOf(err) != KindNotFound {
				t.Errorf("RevokeKey(%q) = %v, want not found", id, err)
			}
		}
	})
}

func TestBootstrapAdminKeyOnlyOnce(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		k, created, err := db.BootstrapAdminKey(ctx)
		if err != nil || !created || k.Role != RoleAdmin || k.Secret == "" {
			t.Fatalf("first bootstrap = %+v, %v, %v; want a new admin key", k, created, err)
		}
		again, created, err := db.BootstrapAdminKey(ctx)
		if err != nil || created || again.Secret != "" {
			t.Fatalf("second bootstrap = %+v, %v, %v; want nothing created", again, created, err)
		}
		keys, err := db.ListKeys(ctx, Page{})
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys = %+v, %v; want one", keys, err)
		}
	})
}

// A rotated key is replaced by a new one of its role and account; the old one works on
// through its grace, which a revocation ends, and a key revoked or rotated already is not
// rotated again.
func TestRotateKeyReplacesItAfterItsGrace(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		merchant := mustAccount(t, db, AccountMerchant)
		old, err := db.CreateKey(ctx, CreateKeyRequest{Role: RoleMerchant, Account: merchant.ID})
		if err != nil {
			t.Fatal(err)
		}

		r, err := db.RotateKey(ctx, RotateKeyRequest{ID: old.ID, GraceSeconds: 3600, IdempotencyKey: "roll-1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == old.ID || r.Role != RoleMerchant || r.Account != merchant.ID || !strings.HasPrefix(r.Secret, SecretPrefix) {
			t.Fatalf("new key %+v: want another merchant key of %s with a secret", r.APIKey, merchant.ID)
		}
		if r.Replaces.ID != old.ID || r.Replaces.RevokedAt == nil || r.Replaces.RevokedAt.Sub(r.CreatedAt).Round(time.Second) != time.Hour {
			t.Fatalf("replaces %+v: want %s stopping an hour after the new key was made", r.Replaces, old.ID)
		}
		for _, secret := range []string{old.Secret, r.Secret} {
			if a, err := db.Authenticate(ctx, secret); err != nil || a.Role != RoleMerchant {
				t.Errorf("during the grace a key of the rotation does not authenticate: %+v, %v", a, err)
			}
		}

		// A replay answers with the same keys, without the secret shown before.
		again, err := db.RotateKey(ctx, RotateKeyRequest{ID: old.ID, GraceSeconds: 3600, IdempotencyKey: "roll-1"})
		if err != nil || again.ID != r.ID || again.Secret != "" {
			t.Fatalf("replay: %+v, %v; want key %s without its secret", again.APIKey, err, r.ID)
		}
		// Rotated already, it is not rotated again: the new key is.
		if _, err := db.RotateKey(ctx, RotateKeyRequest{ID: old.ID}); CodeOf(err) != "key_revoked" || KindOf(err) != KindConflict {
			t.Errorf("second rotation of %s: %v, want key_revoked", old.ID, err)
		}

		// Revoking ends the grace at once.
		if _, err := db.RevokeKey(ctx, old.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(ctx, old.Secret); CodeOf(err) != "revoked_api_key" {
			t.Errorf("old key after its revocation: %v, want revoked_api_key", err)
		}

		// Without a grace the old key stops at once.
		now, err := db.RotateKey(ctx, RotateKeyRequest{ID: r.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(ctx, r.Secret); CodeOf(err) != "revoked_api_key" {
			t.Errorf("key rotated without a grace: %v, want revoked_api_key", err)
		}
		if _, err := db.Authenticate(ctx, now.Secret); err != nil {
			t.Errorf("the newest key: %v", err)
		}

		for _, tt := range []struct {
			name string
			ctx  context.Context
			req  RotateKeyRequest
			code string
		}{
			{"a revoked key", ctx, RotateKeyRequest{ID: old.ID}, "key_revoked"},
			{"no such key", ctx, RotateKeyRequest{ID: NewID(PrefixKey)}, "key_not_found"},
			{"a negative grace", ctx, RotateKeyRequest{ID: now.ID, GraceSeconds: -1}, "invalid_grace"},
			{"a grace over a week", ctx, RotateKeyRequest{ID: now.ID, GraceSeconds: int64(MaxKeyGrace/time.Second) + 1}, "invalid_grace"},
			{"by a merchant", asActor(RoleMerchant, merchant.ID), RotateKeyRequest{ID: now.ID}, "forbidden"},
		} {
			if _, err := db.RotateKey(tt.ctx, tt.req); CodeOf(err) != tt.code {
				t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
			}
		}
		if _, err := db.Authenticate(ctx, now.Secret); err != nil {
			t.Errorf("refused rotations changed the newest key: %v", err)
		}
		verifyClean(t, db)
	})
}
