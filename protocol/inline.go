package protocol

import "strconv"

// SplitArgs splits an inline command line as Redis's sdssplitargs does:
// arguments separated by white space; "double quotes" with \n \r \t \b \a,
// \xHH and \<any> escapes; 'single quotes' with only \' escaped. A closing
// quote must be followed by white space or the end of the line. It returns
// false for unbalanced quotes. Like the C original, a NUL byte ends the line.
func SplitArgs(line []byte) ([][]byte, bool) {
	for i, c := range line {
		if c == 0 {
			line = line[:i]
			break
		}
	}
	var args [][]byte
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p == len(line) {
			return args, true
		}
		var cur []byte
		inDouble, inSingle := false, false
		for done := false; !done; {
			atEnd := p >= len(line)
			switch {
			case inDouble:
				switch {
				case atEnd:
					return nil, false
				case line[p] == '\\' && p+3 < len(line) && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]):
					b, _ := strconv.ParseUint(string(line[p+2:p+4]), 16, 8)
					cur = append(cur, byte(b))
					p += 3
				case line[p] == '\\' && p+1 < len(line):
					p++
					cur = append(cur, unescape(line[p]))
				case line[p] == '"':
					if p+1 < len(line) && !isSpace(line[p+1]) {
						return nil, false
					}
					done = true
				default:
					cur = append(cur, line[p])
				}
			case inSingle:
				switch {
				case atEnd:
					return nil, false
				case line[p] == '\\' && p+1 < len(line) && line[p+1] == '\'':
					p++
					cur = append(cur, '\'')
				case line[p] == '\'':
					if p+1 < len(line) && !isSpace(line[p+1]) {
						return nil, false
					}
					done = true
				default:
					cur = append(cur, line[p])
				}
			default:
				switch {
				case atEnd || line[p] == ' ' || line[p] == '\n' || line[p] == '\r' || line[p] == '\t':
					done = true
				case line[p] == '"':
					inDouble = true
				case line[p] == '\'':
					inSingle = true
				default:
					cur = append(cur, line[p])
				}
			}
			if !atEnd {
				p++
			}
		}
		if cur == nil {
			cur = []byte{}
		}
		args = append(args, cur)
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// AppendCommand encodes args as a RESP multibulk request.
func AppendCommand(dst []byte, args [][]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
