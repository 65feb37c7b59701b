package nfc

import (
	"errors"
	"testing"
	"time"
)

// transactingCard records transactions; Transmit is never called here.
type transactingCard struct {
	begins, ends int
	waited       time.Duration
	beginErr     error
}

func (c *transactingCard) ATR() []byte                     { return nil }
func (c *transactingCard) Transmit([]byte) ([]byte, error) { return nil, errors.New("unused") }
func (c *transactingCard) Close() error                    { return nil }
func (c *transactingCard) BeginTransaction(wait time.Duration) error {
	c.waited = wait
	if c.beginErr != nil {
		return c.beginErr
	}
	c.begins++
	return nil
}
func (c *transactingCard) EndTransaction() error { c.ends++; return nil }

func TestExclusiveHoldsOnceAndNests(t *testing.T) {
	c := &transactingCard{}
	tag := &Tag{card: NewCountingCard(c)}
	inner := 0
	err := tag.Exclusive(func() error {
		return tag.Exclusive(func() error {
			inner++
			if c.begins != 1 || c.ends != 0 {
				t.Errorf("inside: %d begins, %d ends", c.begins, c.ends)
			}
			return nil
		})
	})
	if err != nil || inner != 1 || c.begins != 1 || c.ends != 1 {
		t.Errorf("err %v, inner ran %d times, %d begins, %d ends; want one of each", err, inner, c.begins, c.ends)
	}
	if c.waited != DefaultExclusiveWait {
		t.Errorf("waited %v, want the default %v", c.waited, DefaultExclusiveWait)
	}
	tag.SetExclusiveWait(time.Second)
	want := errors.New("write failed")
	if err := tag.Exclusive(func() error { return want }); err != want || c.ends != 2 || c.waited != time.Second {
		t.Errorf("a failing fn: %v, %d ends, waited %v", err, c.ends, c.waited)
	}
}

func TestExclusiveBusyReaderRunsNothing(t *testing.T) {
	c := &transactingCard{beginErr: ErrReaderBusy}
	tag := &Tag{card: c}
	ran := false
	err := tag.Exclusive(func() error { ran = true; return nil })
	if !errors.Is(err, ErrReaderBusy) || !errors.Is(err, ErrDevice) || ran || c.ends != 0 {
		t.Errorf("busy reader: %v, ran %v, %d ends", err, ran, c.ends)
	}
}
