// Package redisnum parses and formats numbers exactly as Redis does, for both
// the wire layer (arguments) and the engine (stored strings), which must agree.
package redisnum

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// ParseInt parses a signed 64-bit integer as Redis's string2ll: no leading
// '+', spaces or zeros ("01", "-0" and "" are rejected).
func ParseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if n == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > uint64(math.MaxInt64)+1 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// Strtod parses s as C's strtod when it must consume all of s: Go's
// ParseFloat, plus C's hex floats without a binary exponent ("0x10"), minus
// Go's digit separators. erange reports what strtod flags with ERANGE: an
// overflow (f is ±Inf) or an underflow to zero.
func Strtod(s string) (f float64, ok, erange bool) {
	if s == "" || strings.IndexByte(s, '_') >= 0 {
		return 0, false, false
	}
	body := strings.TrimLeft(s, "+-")
	hex := len(body) > 2 && body[0] == '0' && (body[1]|0x20) == 'x'
	if hex && !strings.ContainsAny(body, "pP") {
		s += "p0"
	}
	f, err := strconv.ParseFloat(s, 64)
	var ne *strconv.NumError
	if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
		return f, true, true
	}
	if err != nil {
		return 0, false, false
	}
	if f == 0 && nonZeroMantissa(body, hex) {
		return 0, true, true // underflow to zero (subnormals are accepted, as Redis does)
	}
	return f, true, false
}

// nonZeroMantissa reports whether a number's digits before its exponent are
// not all zero (so that parsing it as 0 was an underflow).
func nonZeroMantissa(body string, hex bool) bool {
	exp := "eE"
	if hex {
		body, exp = body[2:], "pP"
	}
	if i := strings.IndexAny(body, exp); i >= 0 {
		body = body[:i]
	}
	return strings.Trim(body, "0.") != ""
}

// ParseFloat parses a double as Redis's string2d (scores, increments,
// weights, timeouts): the whole argument, no leading space, no overflow or
// underflow, no NaN.
func ParseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	f, ok, erange := Strtod(string(b))
	if !ok || erange || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// longDoublePrec is the mantissa of x86's 80-bit long double, which Redis
// uses for INCRBYFLOAT; emulating it keeps results such as 0.1+0.2 = "0.3"
// identical to Redis's.
const longDoublePrec = 64

// maxLongDoubleChars is MAX_LONG_DOUBLE_CHARS: longer inputs are rejected.
const maxLongDoubleChars = 5 * 1024

// LongDouble is a number with long double precision.
type LongDouble struct{ f *big.Float }

// ParseLongDouble parses as Redis's string2ld (strtold).
func ParseLongDouble(b []byte) (LongDouble, bool) {
	if len(b) == 0 || len(b) >= maxLongDoubleChars || isSpace(b[0]) || strings.IndexByte(string(b), '_') >= 0 {
		return LongDouble{}, false
	}
	s := string(b)
	if !strtoldSyntax(s) {
		return LongDouble{}, false
	}
	if bare := strings.TrimLeft(s, "+-"); strings.EqualFold(bare, "inf") || strings.EqualFold(bare, "infinity") {
		return LongDouble{new(big.Float).SetInf(s[0] == '-')}, true
	}
	f, _, err := big.ParseFloat(s, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return LongDouble{}, false
	}
	if !f.IsInf() && f.Sign() != 0 && (f.MantExp(nil) > 16384 || f.MantExp(nil) < -16381) {
		return LongDouble{}, false // ERANGE: overflow or underflow in strtold
	}
	return LongDouble{f}, true
}

// strtoldSyntax accepts what C's strtold parses completely: an optional
// sign, then "inf"/"infinity", a hex float ("0x1.8p3"), or a decimal with an
// optional e exponent. big.ParseFloat alone would also take Go's "0b101",
// "0o17" and "1p3", which Redis rejects.
func strtoldSyntax(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-")
	if strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") {
		return true
	}
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	exp := byte('e')
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
		digit = func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
		exp = 'p'
	}
	i, mant := 0, 0
	for ; i < len(s) && digit(s[i]); i++ {
		mant++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && digit(s[i]); i++ {
			mant++
		}
	}
	if mant == 0 {
		return false
	}
	if i < len(s) && (s[i]|0x20) == exp {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		n := 0
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			n++
		}
		if n == 0 {
			return false
		}
	}
	return i == len(s)
}

// Add returns a+b, and false if the sum is infinite or NaN (Redis refuses
// "increment would produce NaN or Infinity").
func (a LongDouble) Add(b LongDouble) (LongDouble, bool) {
	if a.f.IsInf() || b.f.IsInf() {
		return LongDouble{}, false
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven)
	sum.Add(a.f, b.f)
	if sum.Sign() != 0 && sum.MantExp(nil) > 16384 {
		return LongDouble{}, false
	}
	return LongDouble{sum}, true
}

// Float64 is the nearest double (±Inf beyond its range).
func (a LongDouble) Float64() float64 {
	f, _ := a.f.Float64()
	return f
}

// Human formats as Redis's ld2string(LD_STR_HUMAN): "%.17Lf" with trailing
// zeros (and a trailing '.') removed, and "-0" written as "0".
func (a LongDouble) Human() string {
	s := a.f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// FormatFloat formats a double as Redis 7.0's addReplyDouble does in RESP2
// bulk replies and RESP3 doubles: %.17g, with inf, -inf and nan spelled out.
func FormatFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}
