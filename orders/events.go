package orders

import "github.com/tagpay/tagpay/events"

// tagEvent is the event type of a tag that has just become status.
func tagEvent(status TagStatus) string {
	switch status {
	case TagActive:
		return events.TagProvisioned
	case TagRevoked:
		return events.TagRevoked
	}
	return events.TagFailed
}
