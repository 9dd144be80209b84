package redisnum

import (
	"math"
	"strconv"
	"testing"
)

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "1", "-1", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "01", "-0", "+1", " 1", "", "-",
		"18446744073709551615", "99999999999999999999", "123abc", "1e3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := string(in)
		n, ok := ParseInt(in)
		std, err := strconv.ParseInt(s, 10, 64)
		canonical := err == nil && strconv.FormatInt(std, 10) == s
		if ok {
			if err != nil || std != n {
				t.Fatalf("ParseInt(%q) = %d; strconv.ParseInt = %d, %v", s, n, std, err)
			}
			if strconv.FormatInt(n, 10) != s {
				t.Fatalf("ParseInt(%q) accepted a non-canonical form (%d)", s, n)
			}
		} else if canonical {
			t.Fatalf("ParseInt(%q) refused a canonical integer", s)
		}
	})
}

func FuzzLongDouble(f *testing.F) {
	for _, s := range []string{"0", "1", "-1", "10.5", "0.1", "1e10", "-1.5e-3", "inf", "-inf", "nan",
		"0x10", "0x1p-3", "1e4932", "1e4933", "1e-4950", "3.4e-4940", ".5", "5.", "+2", "-0",
		"123456789012345678901234567890", "0.00000000000000001", "1e18", "9007199254740993", " 1", "1_0", ".001000000000000001"} {
		f.Add([]byte(s), []byte("0.1"))
	}
	f.Fuzz(func(t *testing.T, in, by []byte) {
		if len(in) > 64 || len(by) > 64 {
			return // huge exponents make big.Float text enormous; not interesting
		}
		a, ok := ParseLongDouble(in)
		if !ok {
			return
		}
		if b, ok := ParseLongDouble(by); ok {
			if sum, ok := a.Add(b); ok {
				_ = sum.Human()
			}
		}
		if a.f.IsInf() {
			return
		}
		h := a.Human()
		back, ok := ParseLongDouble([]byte(h))
		if !ok {
			t.Fatalf("Human() of %q = %q, which does not parse back", in, h)
		}
		if h2 := back.Human(); h2 != h {
			t.Fatalf("Human(parse(%q)) = %q, Human(parse(Human)) = %q: not stable", in, h, h2)
		}
		if h == "-0" || (len(h) > 1 && h[len(h)-1] == '.') {
			t.Fatalf("Human() of %q = %q", in, h)
		}
		// Human agrees with a float64 reading where float64 can tell: it is
		// the value rounded to 17 decimal places ("%.17Lf").
		if f64, err := strconv.ParseFloat(h, 64); err == nil && !math.IsInf(f64, 0) {
			af, _ := a.f.Float64()
			if math.Abs(af) < 1e15 && math.Abs(f64-af) > 1e-17+math.Abs(af)*1e-15 {
				t.Fatalf("Human() of %q = %q, but the value is %g", in, h, af)
			}
		}
	})
}

// strtold reads "0b101" as 0 followed by garbage and "1p3" as 1 followed by
// garbage, so Redis rejects both; big.ParseFloat with base 0 accepts them.
// Hex floats are C syntax and must stay accepted.
func TestParseLongDoubleMatchesStrtoldSyntax(t *testing.T) {
	for _, s := range []string{"0b101", "0B11", "0o17", "0O17", "1p3", "1.5p2"} {
		if v, ok := ParseLongDouble([]byte(s)); ok {
			t.Errorf("ParseLongDouble(%q) = %s, want rejected (strtold stops before the end)", s, v.Human())
		}
	}
	for s, want := range map[string]string{"0x10": "16", "0x1p3": "8", "0X1.8p1": "3", "+.5": "0.5", "5.": "5"} {
		if v, ok := ParseLongDouble([]byte(s)); !ok || v.Human() != want {
			t.Errorf("ParseLongDouble(%q) = %v, want %s", s, ok, want)
		}
	}
}
