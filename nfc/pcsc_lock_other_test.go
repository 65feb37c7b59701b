//go:build cgo && !nopcsc && !unix

package nfc_test

import "testing"

// lockVPCD has nothing to do where vpcd does not run.
func lockVPCD(testing.TB) {}
