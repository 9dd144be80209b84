package protocol

import "strconv"

// UnauthArgPrefix is how much of each argument a command from an
// unauthenticated client needs. Such a command is refused whatever its
// arguments hold: the reply depends on its name (unknown command, unknown
// subcommand, arity, NOAUTH) and, in the unknown-command error, on at most
// 128 bytes of its arguments (Redis prints '%.128s').
const UnauthArgPrefix = 128

// CompactArgs copies the whole multibulk commands in cmds (framed by a
// Framer, so well formed) to dst with every argument cut to maxArg bytes.
// From the first command for which keep(name) is true on, the rest is
// copied unchanged: AUTH and HELLO need their arguments, and the commands
// after them may run authenticated.
//
// An unauthenticated client may send ten arguments of 16 KB per command
// (Redis 7's limits); cutting them before the command parser copies them
// keeps a flood of such requests from churning the heap.
func CompactArgs(dst, cmds []byte, maxArg int, keep func(name []byte) bool) []byte {
	i := 0
	for i < len(cmds) {
		start := i
		argc, next, ok := readHeader(cmds, i, '*')
		if !ok {
			return append(dst, cmds[start:]...)
		}
		i = next
		for a := 0; a < argc; a++ {
			n, dataAt, ok := readHeader(cmds, i, '$')
			if !ok || dataAt+n+2 > len(cmds) {
				return append(dst, cmds[start:]...) // not ours to judge
			}
			if a == 0 && keep(cmds[dataAt:dataAt+n]) {
				return append(dst, cmds[start:]...)
			}
			i = dataAt + n + 2
		}
		// Second pass over the same command, now known to be cut.
		j := start
		_, j, _ = readHeader(cmds, j, '*')
		dst = append(dst, cmds[start:j]...)
		for a := 0; a < argc; a++ {
			n, dataAt, _ := readHeader(cmds, j, '$')
			m := min(n, maxArg)
			dst = append(dst, '$')
			dst = strconv.AppendInt(dst, int64(m), 10)
			dst = append(dst, '\r', '\n')
			dst = append(dst, cmds[dataAt:dataAt+m]...)
			dst = append(dst, '\r', '\n')
			j = dataAt + n + 2
		}
	}
	return dst
}

// readHeader parses "<kind><n>\r\n" at i, returning n and where the line
// ends.
func readHeader(b []byte, i int, kind byte) (n, next int, ok bool) {
	if i >= len(b) || b[i] != kind {
		return 0, 0, false
	}
	i++
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
		digits++
		if digits > 18 {
			return 0, 0, false
		}
	}
	if digits == 0 || i+1 >= len(b) || b[i] != '\r' {
		return 0, 0, false
	}
	return n, i + 2, true
}
