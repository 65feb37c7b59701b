// Package nfc reads, writes and checks NFC tags through PC/SC readers.
//
// Nothing here knows about payments. The package imports nothing of the project.
package nfc

import "context"

// Card is one connected tag as PC/SC's SCardTransmit sees it: the reader's ATR for it
// and a command/response exchange. A Card is used by one goroutine at a time.
type Card interface {
	// ATR is the answer to reset the reader built for this tag.
	ATR() []byte
	// Transmit sends one C-APDU and returns the R-APDU including SW1 SW2.
	Transmit(apdu []byte) ([]byte, error)
	// Close disconnects, leaving the tag in the field.
	Close() error
}

// ReaderState is what a reader reports about itself.
type ReaderState struct {
	Name    string `json:"name"`
	Present bool   `json:"present"` // a tag is in the field
	ATR     []byte `json:"-"`
}

// Bus is the set of readers a program can reach: a PC/SC context, or an in-memory
// bench in unit tests.
type Bus interface {
	// Readers lists the readers and whether each holds a tag.
	Readers(ctx context.Context) ([]ReaderState, error)
	// Connect opens the tag in the named reader.
	Connect(ctx context.Context, reader string) (Card, error)
	// Wait blocks until some reader's state differs from known (a tag arrived or left,
	// a reader appeared or went) or ctx ends, and returns the new states.
	Wait(ctx context.Context, known []ReaderState) ([]ReaderState, error)
	// Close releases the bus; a pending Wait returns.
	Close() error
}
