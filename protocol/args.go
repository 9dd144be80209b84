package protocol

// EqualFold reports whether b equals the ASCII word w, ignoring case. It is
// how option keywords (EX, NX, WITHSCORES) are matched without allocating.
func EqualFold(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		d := w[i]
		if 'a' <= d && d <= 'z' {
			d -= 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
