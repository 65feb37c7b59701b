//go:build (!cgo && !windows) || nopcsc

package nfc

// OpenPCSC would connect to the PC/SC service; this build has no PC/SC code (built
// with CGO_ENABLED=0 outside Windows, or with the nopcsc tag), so it always reports ErrNoPCSC.
func OpenPCSC() (Bus, error) {
	return nil, ErrNoPCSC
}
