package nfc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ImageError is a tag image file that cannot be used: missing, unreadable, or not an
// image in any format ParseImageFile knows. Every command that takes an image gets it
// from LoadImage, so the same file gives the same message everywhere.
type ImageError struct {
	Path string
	Err  error
}

func (e *ImageError) Error() string { return fmt.Sprintf("tag image %s: %v", e.Path, e.Err) }
func (e *ImageError) Unwrap() error { return e.Err }

// LoadImage reads the tag image in the file at path: tagpay JSON, a Flipper .nfc file or
// a Proxmark3 JSON dump, told apart by content.
func LoadImage(path string) (*Image, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		// The path is in the message already; the system's words for the failure suffice.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &ImageError{Path: path, Err: err}
	}
	img, _, err := ParseImageFile(raw)
	if err != nil {
		return nil, &ImageError{Path: path, Err: err}
	}
	return img, nil
}
