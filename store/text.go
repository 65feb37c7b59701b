package store

import (
	"unicode"
	"unicode/utf8"
)

// CheckText refuses free text a person typed (account names, labels, memos, reasons,
// device names) that is longer than max characters, not UTF-8, or carries a control
// character or an invisible format character (Unicode category Cf: bidirectional
// overrides such as U+202E, zero-width joiners), which garble tables and logs or make a
// name read as another. Every route checks it here, so local and remote callers get the
// same answer.
func CheckText(param, v string, max int) error {
	if !utf8.ValidString(v) {
		return Errorf(KindInvalid, "invalid_"+param, "%s is not valid UTF-8", param).WithParam(param)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return Errorf(KindInvalid, "invalid_"+param, "%s has %d characters, at most %d", param, n, max).WithParam(param)
	}
	for i, r := range v {
		switch {
		case unicode.IsControl(r):
			return Errorf(KindInvalid, "invalid_"+param, "%s contains a control character (U+%04X at byte %d)", param, r, i).WithParam(param)
		case unicode.Is(unicode.Cf, r):
			return Errorf(KindInvalid, "invalid_"+param, "%s contains an invisible format character (U+%04X at byte %d)", param, r, i).WithParam(param)
		}
	}
	return nil
}
