package protocol

// Match reports whether s matches the glob pattern as Redis's stringmatchlen
// does: '*' any run, '?' one byte, '[abc]', '[^a-z]' classes and '\' escapes.
// It backtracks only to the last '*', so hostile patterns cost O(len(p)*len(s))
// rather than the exponential time of naive recursion.
func Match(pattern, s []byte) bool {
	if len(s) == 0 {
		// Redis's loop never starts on an empty string: only an empty
		// pattern matches it, even "*" does not (KEYS * and SCAN handle
		// "*" before matching, so an empty key is still listed there).
		return len(pattern) == 0
	}
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			default:
				if n, ok := matchOne(pattern[p:], s[i]); ok {
					p += n
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne matches the single-byte token at the start of pat (not '*')
// against c, returning the token's length in the pattern.
func matchOne(pat []byte, c byte) (int, bool) {
	switch pat[0] {
	case '?':
		return 1, true
	case '\\':
		if len(pat) >= 2 {
			return 2, pat[1] == c
		}
		return 1, c == '\\'
	case '[':
		return matchClass(pat, c)
	default:
		return 1, pat[0] == c
	}
}

// matchClass matches a '[...]' class. Like Redis, an unterminated class runs
// to the end of the pattern, and '\' escapes the next byte inside it.
func matchClass(pat []byte, c byte) (int, bool) {
	j := 1
	not := false
	if j < len(pat) && pat[j] == '^' {
		not = true
		j++
	}
	match := false
	for j < len(pat) && pat[j] != ']' {
		switch {
		case pat[j] == '\\' && j+1 < len(pat):
			j++
			if pat[j] == c {
				match = true
			}
		case j+2 < len(pat) && pat[j+1] == '-':
			lo, hi := pat[j], pat[j+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				match = true
			}
			j += 2
		default:
			if pat[j] == c {
				match = true
			}
		}
		j++
	}
	if j < len(pat) {
		j++ // the closing ']'; an unterminated class runs to the end, as in Redis
	}
	if not {
		match = !match
	}
	return j, match
}
