package nfc

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Tag problems found on the tag itself. Each matches ErrDevice.
var (
	ErrTagDamaged error = deviceError("tag content damaged")
	ErrReadOnly   error = deviceError("tag is read-only")
	ErrAuth       error = deviceError("tag password refused")
)

// ErrTooLarge marks a message that does not fit the tag; see TooLargeError.
var ErrTooLarge = errors.New("NDEF message too large for the tag")

// TooLargeError is a message refused because it does not fit the tag.
type TooLargeError struct {
	Size int    // bytes of the NDEF message
	Max  int    // largest message the tag holds
	Tag  string // the tag's name
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("NDEF message of %d bytes does not fit: the %s holds at most %d bytes", e.Size, e.Tag, e.Max)
}

func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// TornWriteError is a write that stopped part way, usually because the tag left the
// reader. It matches ErrDevice and unwraps to the failure that stopped it.
type TornWriteError struct {
	// PagesWritten are the Type 2 pages the tag acknowledged, in the order written.
	// The first NDEF page is written twice, with length 0 at first and with the real
	// length last, so it appears twice once the write completed.
	PagesWritten []int
	// PagesPlanned is every page write the operation meant to make, in order.
	PagesPlanned []int
	// PagesInDoubt are pages whose write went out but whose answer was lost (the tag or
	// pcscd vanished mid-exchange): the tag may or may not hold them.
	PagesInDoubt []int
	// BytesWritten counts the bytes of a Type 4 NDEF file acknowledged, NLEN included.
	BytesWritten int
	// BytesPlanned is what the Type 4 write meant to write.
	BytesPlanned int
	// Verifying is set when every write landed and only the read-back failed.
	Verifying bool
	Err       error
}

func (e *TornWriteError) Error() string {
	var b strings.Builder
	switch {
	case e.Verifying:
		b.WriteString("write finished but the read-back was interrupted; the tag's content is unverified")
	case len(e.PagesPlanned) > 0 && len(e.PagesWritten) == 0 && len(e.PagesInDoubt) > 0:
		fmt.Fprintf(&b, "write interrupted during the first page write (page %s); the tag may be unchanged or damaged, check it with tag diagnose", pageList(e.PagesInDoubt))
	case len(e.PagesPlanned) > 0 && len(e.PagesWritten) == 0:
		b.WriteString("write interrupted before any page was written; the tag is unchanged")
	case len(e.PagesPlanned) > 0:
		noun := "pages"
		if len(e.PagesWritten) == 1 {
			noun = "page"
		}
		fmt.Fprintf(&b, "write interrupted after %d of %d page writes (written: %s %s", len(e.PagesWritten), len(e.PagesPlanned), noun, pageList(e.PagesWritten))
		if len(e.PagesInDoubt) > 0 {
			fmt.Fprintf(&b, "; perhaps also %s", pageList(e.PagesInDoubt))
		}
		b.WriteString("); the tag's NDEF message is now damaged, write it again")
	case e.BytesWritten == 0:
		b.WriteString("write interrupted before any byte was written; the tag is unchanged")
	default:
		fmt.Fprintf(&b, "write interrupted after %d of %d bytes; the tag's NDEF message is now damaged, write it again", e.BytesWritten, e.BytesPlanned)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *TornWriteError) Unwrap() error        { return e.Err }
func (e *TornWriteError) Is(target error) bool { return target == ErrDevice }

// pageList prints pages compactly: "4-9, 4".
func pageList(pages []int) string {
	var parts []string
	for i := 0; i < len(pages); {
		j := i
		for j+1 < len(pages) && pages[j+1] == pages[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", pages[i], pages[j]))
		} else {
			parts = append(parts, fmt.Sprint(pages[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

type family int

const (
	familyType2 family = iota + 1
	familyType4
)

// Tag is an identified tag on a reader. Use it from one goroutine at a time.
type Tag struct {
	Type    TagType
	Name    string // data-sheet name: "NTAG215", "NTAG 424 DNA"
	UID     []byte
	Version []byte // GET_VERSION reply, when the IC answered it

	card     Card
	atr      ATRInfo
	link     *link
	family   family
	fastRead bool
	layout   *Layout
	mem      pageCache
	t4       *t4State
	t4App    bool          // the NDEF application is selected
	authed   bool          // PWD_AUTH succeeded in this session
	held     int           // depth of Exclusive calls holding the reader
	wait     time.Duration // how long Exclusive waits for a busy reader; 0: the default
	sess     *dnaSession   // NTAG 424 DNA secure channel, nil when none is open
}

// Open identifies the tag behind card. For a MIFARE Classic or another tag tagpay
// cannot use, it returns the tag (so its name can be shown) together with an error
// matching ErrUnsupported. Close the Tag, not the card, when done.
func Open(card Card) (*Tag, error) {
	t := &Tag{card: card}
	// Identification runs inside Exclusive so that a reader another program holds
	// gives a bounded wait and a plain error, not a hang.
	if err := t.Exclusive(t.identify); err != nil {
		if t.Type == "" {
			if t.link != nil {
				_ = t.link.close() // the caller closes the card, not the session
			}
			return nil, err
		}
		return t, err
	}
	return t, nil
}

// ATR is what the reader's answer to reset says about the tag.
func (t *Tag) ATR() ATRInfo { return t.atr }

// Personality is how the reader reaches the tag: "acr122", "part3" or "none" for
// Type 2 tags, "iso14443-4" for Type 4 tags.
func (t *Tag) Personality() string {
	if t.family == familyType4 {
		return "iso14443-4"
	}
	if t.link == nil {
		return ""
	}
	return t.link.p.Name
}

// Layout is the IC's memory map, for Type 2 tags whose IC is known.
func (t *Tag) Layout() (Layout, bool) {
	if t.layout == nil {
		return Layout{}, false
	}
	return *t.layout, true
}

// Close ends any reader session and disconnects, leaving the tag in the field. A
// tag that was given its password is first made to forget it, so that no other
// program can write its protected pages while it stays on the reader.
func (t *Tag) Close() error {
	var err error
	if t.authed {
		t.forgetAuth()
	}
	if t.link != nil {
		err = t.link.close()
	}
	if cerr := t.card.Close(); err == nil {
		err = cerr
	}
	return err
}

func (t *Tag) usable() error {
	switch {
	case t.Type == TypeMifareClassic:
		return fmt.Errorf("%w: %s", ErrUnsupported, t.Name)
	case t.family == 0:
		return fmt.Errorf("%w: %s was not identified", ErrUnsupported, t.Name)
	}
	return nil
}

// ReadNDEF returns the tag's NDEF message (empty when the tag holds an empty one),
// reading only as far as the message reaches.
func (t *Tag) ReadNDEF() ([]byte, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if t.family == familyType4 {
		return t.readNDEFType4()
	}
	msg, err := t.readNDEFType2()
	if err != nil {
		if perr := t.protectedRead(err); perr != nil {
			return nil, perr
		}
	}
	return msg, err
}

// WriteOptions tune WriteNDEF.
type WriteOptions struct {
	// Password (4 bytes) is presented with PWD_AUTH before writing, for tags whose
	// memory is write-protected; PACK, when set, is checked against the tag's answer.
	Password []byte
	PACK     []byte
}

// WriteNDEF writes msg, reads it back and compares. A tag that leaves (or fails) part
// way gives a *TornWriteError naming what was written; a message that does not fit a
// *TooLargeError naming both sizes, before anything is written.
func (t *Tag) WriteNDEF(msg []byte, opts WriteOptions) error {
	if err := t.usable(); err != nil {
		return err
	}
	if len(opts.Password) > 0 && !t.authed {
		if err := t.Authenticate(opts.Password, opts.PACK); err != nil {
			return err
		}
	}
	return t.Exclusive(func() error {
		if t.family == familyType4 {
			return t.writeNDEFType4(msg)
		}
		return t.writeNDEFType2(msg)
	})
}

// Authenticate presents a Type 2 tag's password (PWD_AUTH); pack, when not empty, is
// compared with the acknowledge the tag answers.
func (t *Tag) Authenticate(pwd, pack []byte) error {
	if t.family != familyType2 {
		return fmt.Errorf("%w: %s has no PWD_AUTH password", ErrUnsupported, t.Name)
	}
	return t.authenticateType2(pwd, pack)
}

// Lock makes the tag permanently read-only: CC write access 0F, dynamic and static
// lock bits. It cannot be undone.
func (t *Tag) Lock() error {
	if err := t.usable(); err != nil {
		return err
	}
	if t.family == familyType4 {
		return fmt.Errorf("%w: locking an %s changes its file settings, which needs its application key", ErrUnsupported, t.Name)
	}
	return t.Exclusive(t.lockType2)
}

// SetPassword configures password protection (PWD, PACK, AUTH0, PROT, AUTHLIM) on
// ICs that have it: NTAG21x and Ultralight EV1. It reads the configuration back and
// presents the new password once to prove it landed, which leaves the session
// authenticated. A tag already protected needs Authenticate first.
func (t *Tag) SetPassword(cfg PasswordConfig) error {
	if err := t.usable(); err != nil {
		return err
	}
	if t.family != familyType2 {
		return fmt.Errorf("%w: %s has no PWD_AUTH password", ErrUnsupported, t.Name)
	}
	return t.Exclusive(func() error { return t.setPasswordType2(cfg) })
}

// Dump reads the whole tag into an image: every page of a Type 2 tag (PWD and PACK
// read as zeros), the NDEF file of a Type 4 tag; with the signature and counter when
// the reader can fetch them. Pages a password keeps from being read (Authenticate
// first to read them) come back as zeros, listed in the image's Unreadable.
func (t *Tag) Dump() (*Image, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if t.family == familyType4 {
		return t.dumpType4()
	}
	return t.dumpType2()
}

// Signature reads the NXP originality signature: 32 bytes (NTAG21x, Ultralight EV1)
// or 56 (NTAG 424 DNA). Check it with VerifyOriginality.
func (t *Tag) Signature() ([]byte, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if t.family == familyType4 {
		return t.signatureType4()
	}
	if t.Version == nil {
		return nil, fmt.Errorf("%w: %s has no originality signature", ErrUnsupported, t.Name)
	}
	return t.signatureType2()
}

// Info is what `tag info` shows.
type Info struct {
	Type        TagType       `json:"type"`
	Name        string        `json:"name"`
	UID         HexBytes      `json:"uid"`
	ATR         HexBytes      `json:"atr"`
	Version     HexBytes      `json:"version,omitempty"`
	Personality string        `json:"personality"`
	Capacity    int           `json:"capacity"`    // bytes of the NDEF data area or file
	MaxMessage  int           `json:"max_message"` // largest NDEF message WriteNDEF accepts
	NDEFLength  int           `json:"ndef_length"` // -1 when unreadable
	Lock        string        `json:"lock"`        // writable, partially locked, read-only, unknown
	Password    *PasswordInfo `json:"password,omitempty"`
}

// Info gathers the tag's identity, capacity, lock state and password protection.
func (t *Tag) Info() (*Info, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	in := &Info{Type: t.Type, Name: t.Name, UID: t.UID, ATR: HexBytes(t.atr.Raw), Version: t.Version,
		Personality: t.Personality(), NDEFLength: -1, Lock: LockUnknown}
	if t.family == familyType4 {
		return in, t.infoType4(in)
	}
	cc, err := t.cc()
	if err != nil {
		return nil, err
	}
	switch {
	case checkCC(cc) == nil:
		in.Capacity = t.reachableArea(cc)
	case t.layout != nil:
		in.Capacity = t.layout.UserBytes()
	}
	in.MaxMessage = maxMessage(in.Capacity)
	if msg, err := t.ReadNDEF(); err == nil {
		in.NDEFLength = len(msg)
	} else if errors.Is(err, ErrTagRemoved) {
		return nil, err
	}
	if in.Lock, err = t.lockState(); err != nil {
		return nil, err
	}
	if t.cfg0Page() >= 0 {
		pw, err := t.passwordType2()
		if err != nil {
			return nil, err
		}
		in.Password = &pw
	}
	return in, nil
}

// CountingCard passes APDUs through to a Card and counts them, so that commands
// and benchmarks can report how many exchanges an operation took.
type CountingCard struct {
	Card
	n atomic.Int64
}

// NewCountingCard wraps c.
func NewCountingCard(c Card) *CountingCard { return &CountingCard{Card: c} }

func (c *CountingCard) Transmit(apdu []byte) ([]byte, error) {
	c.n.Add(1)
	return c.Card.Transmit(apdu)
}

// APDUs is how many APDUs have been sent so far.
func (c *CountingCard) APDUs() int { return int(c.n.Load()) }

// Reset sets the count back to zero.
func (c *CountingCard) Reset() { c.n.Store(0) }
