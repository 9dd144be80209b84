package server

import (
	"math"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/internal/redisnum"
	"github.com/kvd/kvd/protocol"
)

// expireUnit says how an expire argument is interpreted.
type expireUnit struct {
	ms       bool // milliseconds rather than seconds
	absolute bool // a Unix time rather than a duration
}

// parseExpireArg turns an EX/PX/EXAT/PXAT (or SETEX/EXPIRE) argument into an
// engine.Expiry with the SET family's checks: a non-integer is "not an
// integer"; zero, negative or overflowing values give "invalid expire time
// in '<cmd>' command". It returns the error text, or "".
func parseExpireArg(cmd string, arg []byte, u expireUnit) (engine.Expiry, string) {
	n, ok := redisnum.ParseInt(arg)
	if !ok {
		return engine.Expiry{}, protocol.ErrNotInteger
	}
	if n <= 0 || (!u.ms && n > math.MaxInt64/1000) {
		return engine.Expiry{}, protocol.ErrInvalidExpire(cmd)
	}
	if !u.ms {
		n *= 1000
	}
	if u.absolute {
		return engine.Expiry{Mode: engine.ExpiryAt, Ms: n}, ""
	}
	return engine.Expiry{Mode: engine.ExpiryIn, Ms: n}, ""
}

// expireOption recognises EX, PX, EXAT and PXAT.
func expireOption(opt []byte) (expireUnit, bool) {
	switch {
	case protocol.EqualFold(opt, "EX"):
		return expireUnit{}, true
	case protocol.EqualFold(opt, "PX"):
		return expireUnit{ms: true}, true
	case protocol.EqualFold(opt, "EXAT"):
		return expireUnit{absolute: true}, true
	case protocol.EqualFold(opt, "PXAT"):
		return expireUnit{ms: true, absolute: true}, true
	}
	return expireUnit{}, false
}

// stringOptions are the parsed options of SET and GETEX, which share one
// parser as in Redis (parseExtendedStringArgumentsOrReply).
type stringOptions struct {
	cond      engine.SetCond
	match     []byte
	get       bool
	keepTTL   bool
	persist   bool
	expireArg []byte
	unit      expireUnit
	hasExpire bool
	forSet    bool
}

// parseStringOptions parses args (after the key, or key and value). forSet
// allows NX/XX/IF*/GET/KEEPTTL; otherwise (GETEX) PERSIST. It returns an
// error text, or "" on success.
func parseStringOptions(cmd string, args [][]byte, forSet bool) (stringOptions, string) {
	o := stringOptions{forSet: forSet}
	for j := 0; j < len(args); j++ {
		opt := args[j]
		hasNext := j+1 < len(args)
		if u, isExp := expireOption(opt); isExp {
			if o.keepTTL || o.persist || !hasNext || (o.hasExpire && o.unit != u) {
				return o, protocol.ErrSyntax
			}
			o.hasExpire, o.unit, o.expireArg = true, u, args[j+1]
			j++
			continue
		}
		switch {
		case forSet && protocol.EqualFold(opt, "NX") && o.cond != engine.CondXX && !condIsIf(o.cond):
			o.cond = engine.CondNX
		case forSet && protocol.EqualFold(opt, "XX") && o.cond != engine.CondNX && !condIsIf(o.cond):
			o.cond = engine.CondXX
		case forSet && protocol.EqualFold(opt, "GET"):
			o.get = true
		case forSet && protocol.EqualFold(opt, "KEEPTTL") && !o.hasExpire:
			o.keepTTL = true
		case !forSet && protocol.EqualFold(opt, "PERSIST") && !o.hasExpire:
			o.persist = true
		case forSet && hasNext && o.cond == engine.CondNone && ifCond(opt) != engine.CondNone:
			o.cond, o.match = ifCond(opt), args[j+1]
			j++
		default:
			return o, protocol.ErrSyntax
		}
	}
	return o, ""
}

func condIsIf(c engine.SetCond) bool { return c >= engine.CondIfEq }

// ifCond recognises Redis 8.4's IFEQ, IFNE, IFDEQ and IFDNE.
func ifCond(opt []byte) engine.SetCond {
	switch {
	case protocol.EqualFold(opt, "IFEQ"):
		return engine.CondIfEq
	case protocol.EqualFold(opt, "IFNE"):
		return engine.CondIfNe
	case protocol.EqualFold(opt, "IFDEQ"):
		return engine.CondIfDEq
	case protocol.EqualFold(opt, "IFDNE"):
		return engine.CondIfDNe
	}
	return engine.CondNone
}

// expiryOrReply resolves the parsed expire option, writing the error reply when it
// is invalid.
func (o stringOptions) expiryOrReply(c *Client, cmd string) (engine.Expiry, bool) {
	switch {
	case o.hasExpire:
		e, msg := parseExpireArg(cmd, o.expireArg, o.unit)
		if msg != "" {
			c.w.Error(msg)
			return e, false
		}
		return e, true
	case o.keepTTL:
		return engine.Expiry{Mode: engine.ExpiryKeep}, true
	case o.persist:
		return engine.Expiry{Mode: engine.ExpiryClear}, true
	case !o.forSet:
		return engine.Expiry{Mode: engine.ExpiryKeep}, true // GETEX alone
	}
	return engine.Expiry{Mode: engine.ExpiryClear}, true
}
