package protocol

import (
	"fmt"
	"strings"
)

// Redis's exact error texts, shared by every handler so the bytes never drift.
const (
	ErrSyntax            = "ERR syntax error"
	ErrNotInteger        = "ERR value is not an integer or out of range"
	ErrNotFloat          = "ERR value is not a valid float"
	ErrOverflow          = "ERR increment or decrement would overflow"
	ErrIncrNaNOrInf      = "ERR increment would produce NaN or Infinity"
	ErrWrongType         = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrNoSuchKey         = "ERR no such key"
	ErrDBIndex           = "ERR DB index is out of range"
	ErrSameObject        = "ERR source and destination objects are the same"
	ErrNoAuth            = "NOAUTH Authentication required."
	ErrWrongPass         = "WRONGPASS invalid username-password pair or user is disabled."
	ErrAuthNotSet        = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	ErrNoProto           = "NOPROTO unsupported protocol version"
	ErrMaxClients        = "ERR max number of clients reached"
	ErrStringTooLong     = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	ErrOffsetOutOfRange  = "ERR offset is out of range"
	ErrInvalidCursor     = "ERR invalid cursor"
	ErrTimeoutNotFloat   = "ERR timeout is not a float or out of range"
	ErrClientNameSpaces  = "ERR Client names cannot contain spaces, newlines or special characters."
	ErrNoSuchClient      = "ERR No such client"
	ErrNXXXIncompat      = "ERR NX and XX, GT or LT options at the same time are not compatible"
	ErrGTLTIncompat      = "ERR GT and LT options at the same time are not compatible"
	ErrShutdownAborted   = "ERR Errors trying to SHUTDOWN. Check logs."
	ErrInvalidExpireTime = "ERR invalid expire time in '%s' command"
	// ErrDiskFull follows Redis's reply when its AOF cannot be written.
	ErrDiskFull = "MISCONF Errors writing to disk: No space left on device. kvd refuses writes until free space is above its reserve."
	// ErrInvalidDigest answers IFDEQ/IFDNE with an argument that is not what
	// DIGEST returns; Redis 8.4's docs do not give the text.
	ErrInvalidDigest = "ERR digest must be exactly 16 hexadecimal characters"
)

// Argument and data errors of the collection commands.
const (
	ErrMustBePositive  = "ERR value is out of range, must be positive"
	ErrCountRange      = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
	ErrOutOfRange      = "ERR value is out of range"
	ErrNaNOrInfinity   = "ERR value is NaN or Infinity"
	ErrNumKeys         = "ERR numkeys should be greater than 0"
	ErrNumKeysArgs     = "ERR Number of keys can't be greater than number of args"
	ErrLimitNegative   = "ERR LIMIT can't be negative"
	ErrMPopCount       = "ERR count should be greater than 0"
	ErrRankZero        = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
	ErrCountNegative   = "ERR COUNT can't be negative"
	ErrMaxLenNegative  = "ERR MAXLEN can't be negative"
	ErrIndexOutOfRange = "ERR index out of range"
	ErrHashNotInteger  = "ERR hash value is not an integer"
	ErrHashNotFloat    = "ERR hash value is not a float"
	ErrNaNScore        = "ERR resulting score is not a number (NaN)"
	ErrSortScore       = "ERR One or more scores can't be converted into double"
	ErrZXXNX           = "ERR XX and NX options at the same time are not compatible"
	ErrZGTLTNX         = "ERR GT, LT, and/or NX options at the same time are not compatible"
	ErrZIncrPair       = "ERR INCR option supports a single increment-element pair"
	ErrMinMaxFloat     = "ERR min or max is not a float"
	ErrMinMaxString    = "ERR min or max not valid string range item"
)

// Protocol errors, sent before the connection is closed (Redis's wording).
const (
	ErrProtoInvalidMultibulk = "ERR Protocol error: invalid multibulk length"
	ErrProtoInvalidBulk      = "ERR Protocol error: invalid bulk length"
	ErrProtoUnauthMultibulk  = "ERR Protocol error: unauthenticated multibulk length"
	ErrProtoUnauthBulk       = "ERR Protocol error: unauthenticated bulk length"
	ErrProtoBigInline        = "ERR Protocol error: too big inline request"
	ErrProtoBigMultibulk     = "ERR Protocol error: too big mbulk count string"
	ErrProtoBigBulkCount     = "ERR Protocol error: too big bulk count string"
	ErrProtoUnbalanced       = "ERR Protocol error: unbalanced quotes in request"
)

// ErrExpectedDollar is the protocol error for a multibulk element that does not
// start with '$'.
func ErrExpectedDollar(got byte) string {
	return fmt.Sprintf("ERR Protocol error: expected '$', got '%c'", got)
}

// ErrWrongArity is Redis's arity error for a command.
func ErrWrongArity(cmd string) string {
	return "ERR wrong number of arguments for '" + strings.ToLower(cmd) + "' command"
}

// ErrUnknownCommand is Redis's unknown command error: the name as sent (up to
// 128 bytes), then the arguments quoted, each followed by a space, until the
// argument text reaches 128 bytes (Redis's processCommand).
func ErrUnknownCommand(name []byte, args [][]byte) string {
	var list []byte
	for _, a := range args {
		if len(list) >= 128 {
			break
		}
		room := 128 - len(list)
		list = append(list, '\'')
		list = append(list, truncate(a, room)...)
		list = append(list, '\'', ' ')
	}
	return "ERR unknown command '" + truncate(name, 128) + "', with args beginning with: " + string(list)
}

// ErrUnknownSubcommand is Redis's error for CONFIG FOO, CLIENT FOO and friends.
func ErrUnknownSubcommand(cmd string, sub []byte) string {
	return fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", truncate(sub, 128), strings.ToUpper(cmd))
}

// ErrUnknownSubcommandArity is the arity error of a container command's
// subcommand, as "ERR wrong number of arguments for 'client|setname' command".
func ErrUnknownSubcommandArity(cmd, sub string) string {
	return "ERR wrong number of arguments for '" + strings.ToLower(cmd) + "|" + strings.ToLower(sub) + "' command"
}

// ErrInvalidExpire is the error for a non-positive or overflowing expire time.
func ErrInvalidExpire(cmd string) string {
	return fmt.Sprintf(ErrInvalidExpireTime, strings.ToLower(cmd))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	// Redis sanitises the echoed text so it fits in one error line.
	out := make([]byte, len(b))
	for i, c := range b {
		if c == '\r' || c == '\n' {
			c = ' '
		}
		out[i] = c
	}
	return string(out)
}
