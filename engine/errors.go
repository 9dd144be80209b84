package engine

import "errors"

// Errors an operation returns for bad data or arguments. The server maps each
// to Redis's exact text; everything else is an internal (I/O) error.
var (
	ErrWrongType     = errors.New("engine: wrong type")
	ErrNotInteger    = errors.New("engine: value is not an integer or out of range")
	ErrNotFloat      = errors.New("engine: value is not a valid float")
	ErrOverflow      = errors.New("engine: increment or decrement would overflow")
	ErrNaNOrInf      = errors.New("engine: increment would produce NaN or Infinity")
	ErrNoSuchKey     = errors.New("engine: no such key")
	ErrDBIndex       = errors.New("engine: database index out of range")
	ErrTooLarge      = errors.New("engine: string exceeds maximum allowed size")
	ErrTxnTooBig     = errors.New("engine: operation touches too many keys for one transaction")
	ErrSameObject    = errors.New("engine: source and destination are the same")
	ErrInvalidDigest = errors.New("engine: invalid digest")
	// ErrInvalidExpire: a relative expiry overflows once added to the
	// current time (Redis: "invalid expire time in '<cmd>' command").
	ErrInvalidExpire = errors.New("engine: invalid expire time")

	// Hash values that are not numbers: Redis words these differently from
	// the string commands' ErrNotInteger and ErrNotFloat.
	// ErrDiskFull: the data directory's free space is below the reserve
	// (Options.DiskReserve); writes are refused until space returns.
	ErrDiskFull = errors.New("engine: not enough free disk space")

	ErrHashNotInteger  = errors.New("engine: hash value is not an integer")
	ErrHashNotFloat    = errors.New("engine: hash value is not a float")
	ErrIndexOutOfRange = errors.New("engine: index out of range")
	// ErrNaNScore: ZADD INCR or ZINCRBY would make a score NaN (inf + -inf).
	ErrNaNScore  = errors.New("engine: resulting score is not a number (NaN)")
	ErrSortScore = errors.New("engine: one or more scores can't be converted into double")
)
