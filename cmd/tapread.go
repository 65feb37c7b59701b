package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
)

// Tap is what a payer's device reads from a merchant's tag: its UID and the URL it
// carries.
type Tap struct {
	UID     string `json:"uid"`
	Content string `json:"content"`
	Source  string `json:"source"` // reader name or image file
}

// defaultTagWait is how long a command waits for a tag to be presented.
const defaultTagWait = 10 * time.Second

// readTapFromReader waits for a tag on the reader (spec: name, index or empty for the
// first holding a tag) and reads its UID and, when withContent is set, its URL.
func readTapFromReader(ctx context.Context, spec string, wait time.Duration, withContent bool) (Tap, error) {
	return TagAccess{OpenBus: nfc.OpenPCSC, Reader: spec, Wait: wait}.readTap(ctx, withContent)
}

// readTap is readTapFromReader through a TagAccess, which tests give an emulated bus.
func (a TagAccess) readTap(ctx context.Context, withContent bool) (Tap, error) {
	tag, err := a.open(ctx)
	if err != nil {
		return Tap{}, err
	}
	defer tag.Close()
	tap := Tap{UID: strings.ToUpper(hex.EncodeToString(tag.UID)), Source: tag.Reader}
	if !withContent {
		return tap, nil
	}
	msg, err := tag.ReadNDEF()
	if err != nil {
		return Tap{}, err
	}
	if tap.Content, err = uriOf(msg); err != nil {
		return Tap{}, err
	}
	return tap, nil
}

// readTapFromImage reads a tag image (tagpay JSON or a Flipper .nfc file) as a reader
// would read the tag: an NTAG 424 DNA image with SUN settings yields the URL of its next
// tap.
func readTapFromImage(path string) (Tap, error) {
	img, err := loadImage(path)
	if err != nil {
		return Tap{}, err
	}
	tap := Tap{UID: strings.ToUpper(hex.EncodeToString(img.UID)), Source: path}
	switch {
	case img.SUN != nil:
		tap.Content, err = nfc.BuildSUN(img.SUN.BaseURL, img.UID, img.Counter+1, img.SUN.MetaKey, img.SUN.FileKey, img.SUN.Plain)
		if err != nil {
			return Tap{}, Usagef("tag image %s: %v", path, err)
		}
		return tap, nil
	case len(img.NDEF) > 0:
		tap.Content, err = uriOf(img.NDEF)
	case len(img.Pages) > 4:
		var user []byte
		for _, p := range img.Pages[4:] {
			user = append(user, p...)
		}
		var msg []byte
		if msg, err = nfc.ParseNDEFTLV(user); err == nil {
			tap.Content, err = uriOf(msg)
		}
	default:
		err = errors.New("the image holds no NDEF data")
	}
	if err != nil {
		return Tap{}, fmt.Errorf("%w: tag image %s: %v", nfc.ErrTagDamaged, path, err)
	}
	return tap, nil
}

// uriOf finds the URL of an NDEF message: its first URI record, or the URI of its first
// Smart Poster.
func uriOf(msg []byte) (string, error) {
	m, err := ndef.Decode(msg)
	if err != nil {
		return "", fmt.Errorf("%w: %v", nfc.ErrTagDamaged, err)
	}
	for _, r := range m {
		if r.IsWellKnown(ndef.TypeURI) {
			return ndef.ParseURI(r)
		}
		if sp, err := ndef.ParseSmartPoster(r); err == nil {
			return sp.URI, nil
		}
	}
	return "", fmt.Errorf("%w: the tag holds no URI record (%d record(s)); it is not a payment tag", nfc.ErrDevice, len(m))
}
