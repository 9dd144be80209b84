package engine

import "math"

// ExpiryMode says what a write does to a key's time to live.
type ExpiryMode uint8

const (
	// ExpiryClear removes any TTL: a plain SET.
	ExpiryClear ExpiryMode = iota
	// ExpiryKeep keeps the key's TTL: SET KEEPTTL, INCR, APPEND, SETRANGE.
	ExpiryKeep
	// ExpiryIn sets a deadline Ms milliseconds after the operation's now.
	ExpiryIn
	// ExpiryAt sets the absolute deadline Ms (Unix milliseconds).
	ExpiryAt
)

// Expiry is a TTL change that rides along with a write.
type Expiry struct {
	Mode ExpiryMode
	Ms   int64
}

// deadline resolves e at now against the key's current deadline.
func (e Expiry) deadline(now, current int64) (int64, error) {
	switch e.Mode {
	case ExpiryKeep:
		return current, nil
	case ExpiryIn:
		if e.Ms > math.MaxInt64-now {
			return 0, ErrInvalidExpire
		}
		return now + e.Ms, nil
	case ExpiryAt:
		return e.Ms, nil
	default:
		return 0, nil
	}
}

// expiresNow reports whether a resolved deadline is already past, in which
// case a write deletes the key rather than storing a dead record.
func expiresNow(deadline, now int64) bool { return deadline > 0 && deadline <= now }
