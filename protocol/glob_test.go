package protocol

import "testing"

// stringmatch is a direct transcription of Redis's recursive stringmatchlen
// (util.c, without nocase), used as the reference for Match.
func stringmatch(p, s []byte) bool {
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if stringmatch(p[1:], s) {
					return true
				}
				s = s[1:]
			}
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			match := false
			for {
				if len(p) == 0 {
					break
				}
				if p[0] == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						match = true
					}
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					lo, hi := p[0], p[2]
					if lo > hi {
						lo, hi = hi, lo
					}
					if s[0] >= lo && s[0] <= hi {
						match = true
					}
					p = p[2:]
				} else if p[0] == s[0] {
					match = true
				}
				p = p[1:]
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s = s[1:]
			if len(p) == 0 {
				return len(s) == 0
			}
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}

func TestMatchCases(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", false}, {"*", "abc", true}, {"a*", "abc", true}, {"a*c", "abc", true},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"h[ae]llo", "hallo", true},
		{"h[^e]llo", "hello", false}, {"h[a-b]llo", "hbllo", true}, {"h[b-a]llo", "hallo", true},
		{"h\\*llo", "h*llo", true}, {"h\\*llo", "hello", false}, {"user:*", "user:42", true},
		{"*:*:*", "a:b:c", true}, {"[abc", "a", true}, {"", "", true}, {"", "a", false},
	}
	for _, c := range cases {
		if got := Match([]byte(c.p), []byte(c.s)); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.p, c.s, got)
		}
		if ref := stringmatch([]byte(c.p), []byte(c.s)); ref != c.want {
			t.Errorf("reference(%q, %q) = %v", c.p, c.s, ref)
		}
	}
}

// FuzzMatch compares Match with the transcription of Redis's algorithm. Long
// inputs are skipped: the reference is exponential on many stars.
func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{{"h*llo", "hello"}, {"[a-z]?*", "xyz"}, {"\\[", "["}, {"*a*b*", "aab"}, {"[^]]", "x"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 12 || len(s) > 16 {
			return
		}
		if got, want := Match([]byte(p), []byte(s)), stringmatch([]byte(p), []byte(s)); got != want {
			t.Fatalf("Match(%q, %q) = %v, Redis's algorithm says %v", p, s, got, want)
		}
	})
}
