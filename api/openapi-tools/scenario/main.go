// Command scenario drives a running tagpay server through the Go client that oapi-codegen
// generates from api/openapi.yaml, so that the spec is proven usable, not only valid.
// scripts/openapi-check generates the client package next to it and runs it with the
// server's URL and the file holding an admin key.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	client "github.com/tagpay/tagpay/api/openapi-tools/tagpayclient"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: scenario BASE_URL ADMIN_KEY_FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "scenario:", err)
		os.Exit(1)
	}
	fmt.Println("scenario: create, fund, list and the error answers work through the generated client")
}

func run(base, keyFile string) error {
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	secret := strings.TrimSpace(string(raw))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bearer := client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+secret)
		return nil
	})
	c, err := client.NewClientWithResponses(base, bearer)
	if err != nil {
		return err
	}

	// Create an account, twice under one idempotency key: one account.
	key := client.IdempotencyKey("scenario-create-1")
	name, kind, currency := "Ada", client.CreateAccountJSONBodyKindPerson, "EUR"
	body := client.CreateAccountJSONRequestBody{Name: &name, Kind: &kind, Currency: &currency}
	created, err := c.CreateAccountWithResponse(ctx, &client.CreateAccountParams{IdempotencyKey: &key}, body)
	if err != nil {
		return err
	}
	if created.JSON200 == nil || created.JSON200.Id == nil {
		return fmt.Errorf("create account: %d %s", created.StatusCode(), created.Body)
	}
	id := *created.JSON200.Id
	again, err := c.CreateAccountWithResponse(ctx, &client.CreateAccountParams{IdempotencyKey: &key}, body)
	if err != nil {
		return err
	}
	if again.JSON200 == nil || *again.JSON200.Id != id || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		return fmt.Errorf("repeated create: %d %s", again.StatusCode(), again.Body)
	}

	// Fund it.
	amount := "12.50"
	funded, err := c.FundAccountWithResponse(ctx, id, nil, client.FundAccountJSONRequestBody{Amount: &amount})
	if err != nil {
		return err
	}
	if funded.JSON200 == nil || funded.JSON200.Amount == nil || *funded.JSON200.Amount.Amount != 1250 {
		return fmt.Errorf("fund: %d %s", funded.StatusCode(), funded.Body)
	}

	// List: the account is there with its balance.
	list, err := c.ListAccountsWithResponse(ctx, nil)
	if err != nil {
		return err
	}
	if list.JSON200 == nil {
		return fmt.Errorf("list accounts: %d %s", list.StatusCode(), list.Body)
	}
	found := false
	for _, a := range *list.JSON200 {
		if a.Id != nil && *a.Id == id {
			found = a.Balance != nil && a.Balance.Amount != nil && *a.Balance.Amount == 1250 && a.Kind != nil && *a.Kind == client.AccountKindPerson
		}
	}
	if !found {
		return fmt.Errorf("account %s with 12.50 EUR not in the list: %s", id, list.Body)
	}

	// The documented errors arrive in the documented shape.
	bogus := client.OrderStatus("bogus")
	orders, err := c.ListOrdersWithResponse(ctx, &client.ListOrdersParams{Status: &bogus})
	if err != nil {
		return err
	}
	if orders.JSON400 == nil || orders.JSON400.Error.Code != "invalid_status" || orders.JSON400.Error.Param == nil || *orders.JSON400.Error.Param != "status" {
		return fmt.Errorf("list orders with a bogus status: %d %s", orders.StatusCode(), orders.Body)
	}
	anon, err := client.NewClientWithResponses(base)
	if err != nil {
		return err
	}
	denied, err := anon.ListAccountsWithResponse(ctx, nil)
	if err != nil {
		return err
	}
	if denied.JSON401 == nil || denied.JSON401.Error.Code != "missing_api_key" || denied.HTTPResponse.Header.Get("X-Request-Id") == "" {
		return fmt.Errorf("list accounts without a key: %d %s", denied.StatusCode(), denied.Body)
	}
	return nil
}
