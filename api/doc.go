// Package api is the remote side of tagpay: the HTTP/JSON server (/v1) in front of a
// local ledger, and the Go client that implements backend.Backend against it.
package api
