package redisnum

import (
	"math"
	"strings"
	"testing"
)

func TestParseInt(t *testing.T) {
	good := map[string]int64{"0": 0, "1": 1, "-1": -1, "9223372036854775807": math.MaxInt64, "-9223372036854775808": math.MinInt64}
	for s, want := range good {
		if got, ok := ParseInt([]byte(s)); !ok || got != want {
			t.Errorf("ParseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1.0", "0x10", "99999999999999999999"} {
		if _, ok := ParseInt([]byte(s)); ok {
			t.Errorf("ParseInt(%q) accepted", s)
		}
	}
}

func TestParseFloat(t *testing.T) {
	for _, s := range []string{"1", "1.5", "-2e3", "inf", "-inf", ".5", "+3"} {
		if _, ok := ParseFloat([]byte(s)); !ok {
			t.Errorf("ParseFloat(%q) refused", s)
		}
	}
	for _, s := range []string{"", " 1", "1 ", "nan", "abc", "1_0", "1e400"} {
		if _, ok := ParseFloat([]byte(s)); ok {
			t.Errorf("ParseFloat(%q) accepted", s)
		}
	}
}

// Expected sums recorded from redis-server 7.0.15: SET f a; INCRBYFLOAT f b.
func TestLongDoubleMatchesRedis(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"10.5", "0.1", "10.6"},
		{"0.1", "0.2", "0.3"},
		{"5.0e3", "2.0e2", "5200"},
		{"3", "1.1", "4.1"},
		{"1", "-1", "0"},
		{"0", "-0.0", "0"},
	}
	for _, c := range cases {
		a, ok1 := ParseLongDouble([]byte(c.a))
		b, ok2 := ParseLongDouble([]byte(c.b))
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q", c.a, c.b)
		}
		sum, ok := a.Add(b)
		if !ok || sum.Human() != c.want {
			t.Errorf("%s + %s = %q, want %q", c.a, c.b, sum.Human(), c.want)
		}
	}
	big, _ := ParseLongDouble([]byte("1e300"))
	sum, _ := big.Add(big)
	if got := sum.Human(); !strings.HasPrefix(got, "20000000000000000000179946481591183877410478885465814958765201646425312931923618715116983041675009943807007450172285496718071851") {
		t.Errorf("1e300+1e300 = %s", got)
	}
	inf, _ := ParseLongDouble([]byte("inf"))
	one, _ := ParseLongDouble([]byte("1"))
	if _, ok := inf.Add(one); ok {
		t.Error("inf + 1 must be refused")
	}
	for _, s := range []string{"nan", " 1", "1x", "", "1_0"} {
		if _, ok := ParseLongDouble([]byte(s)); ok {
			t.Errorf("ParseLongDouble(%q) accepted", s)
		}
	}
}

func TestLongDoubleInfinitySpellings(t *testing.T) {
	for _, s := range []string{"inf", "-inf", "+Infinity", "infinity", "INF"} {
		v, ok := ParseLongDouble([]byte(s))
		if !ok {
			t.Fatalf("%q refused; strtold accepts it", s)
		}
		one, _ := ParseLongDouble([]byte("1"))
		if _, ok := v.Add(one); ok {
			t.Errorf("%q + 1 must be refused as infinite", s)
		}
	}
}
