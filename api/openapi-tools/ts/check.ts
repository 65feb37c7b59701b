// Type-checked against the types openapi-typescript generates from api/openapi.yaml
// (schema.d.ts, made next to this file by scripts/openapi-check): the shapes a
// TypeScript client relies on must exist with these names and types.
import type { components, paths } from "./schema";

type Account = components["schemas"]["Account"];
type ErrorBody = components["schemas"]["Error"];
type ListAccounts = paths["/v1/accounts"]["get"]["responses"]["200"]["content"]["application/json"];
type CreateAccountBody = NonNullable<paths["/v1/accounts"]["post"]["requestBody"]>["content"]["application/json"];
type FundTooMany = paths["/v1/accounts/{id}/fund"]["post"]["responses"]["429"]["content"]["application/json"];
type OrderStatus = NonNullable<paths["/v1/orders"]["get"]["parameters"]["query"]>["status"];

const body: CreateAccountBody = { name: "Ada", kind: "person", currency: "EUR" };
const accounts: ListAccounts = [{ id: "acct_x", kind: "merchant", balance: { amount: 1250, currency: "EUR", formatted: "12.50 EUR" } }];
const first: Account | undefined = accounts[0];
const status: OrderStatus = "paid";
const refused: ErrorBody = { error: { type: "invalid", code: "duplicate_field", message: "m", param: "amount" } };
const limited: FundTooMany = { error: { type: "unavailable", code: "rate_limited", message: "m" } };

export const checked = [body, first, status, refused, limited];
