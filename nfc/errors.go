package nfc

import "errors"

// ErrDevice marks every reader or tag problem: no reader, no tag, tag removed, tag
// unsupported, reader failure, PC/SC missing. The command line maps it to exit code 6.
var ErrDevice = errors.New("reader or tag problem")

// deviceError is a reader or tag problem with its own message.
type deviceError string

func (e deviceError) Error() string        { return string(e) }
func (e deviceError) Is(target error) bool { return target == ErrDevice }

// The reader and tag problems a caller may want to tell apart. Each matches ErrDevice.
var (
	ErrNoPCSC      error = deviceError("built without PC/SC support")
	ErrNoReader    error = deviceError("no reader found")
	ErrNoTag       error = deviceError("no tag on the reader")
	ErrTagRemoved  error = deviceError("tag removed")
	ErrUnsupported error = deviceError("tag not supported")
	ErrReaderFault error = deviceError("reader reported a failure")
)
