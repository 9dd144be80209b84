package server

import (
	"errors"

	"github.com/kvd/kvd/engine"
	"github.com/kvd/kvd/protocol"
)

// engineErrors maps the engine's data errors to Redis's exact texts.
var engineErrors = []struct {
	err  error
	text string
}{
	{engine.ErrWrongType, protocol.ErrWrongType},
	{engine.ErrNotInteger, protocol.ErrNotInteger},
	{engine.ErrNotFloat, protocol.ErrNotFloat},
	{engine.ErrOverflow, protocol.ErrOverflow},
	{engine.ErrNaNOrInf, protocol.ErrIncrNaNOrInf},
	{engine.ErrNoSuchKey, protocol.ErrNoSuchKey},
	{engine.ErrDBIndex, protocol.ErrDBIndex},
	{engine.ErrTooLarge, protocol.ErrStringTooLong},
	{engine.ErrSameObject, protocol.ErrSameObject},
	{engine.ErrInvalidDigest, protocol.ErrInvalidDigest},
	{engine.ErrHashNotInteger, protocol.ErrHashNotInteger},
	{engine.ErrHashNotFloat, protocol.ErrHashNotFloat},
	{engine.ErrIndexOutOfRange, protocol.ErrIndexOutOfRange},
	{engine.ErrSortScore, protocol.ErrSortScore},
	{engine.ErrNaNScore, protocol.ErrNaNScore},
	{engine.ErrDiskFull, protocol.ErrDiskFull},
}

// replyErr writes the reply for an error from the engine. Anything that is
// not a data error is an I/O failure: it is logged, and the client gets an
// ERR reply instead of an acknowledgement.
func (c *Client) replyErr(cmd string, err error) {
	for _, e := range engineErrors {
		if errors.Is(err, e.err) {
			c.w.Error(e.text)
			return
		}
	}
	switch {
	case errors.Is(err, engine.ErrInvalidExpire):
		c.w.Error(protocol.ErrInvalidExpire(cmd))
	case errors.Is(err, engine.ErrTxnTooBig):
		c.w.Error("ERR operation touches too many keys to run atomically; split it")
	case errors.Is(err, engine.ErrBatchScope):
		// Inside a script's or pipeline's batch, which is discarded and
		// run again unbatched: this reply is never sent.
		c.w.Error("ERR operation outside its batch")
	default:
		c.srv.log.Error("storage error", "command", cmd, "err", err)
		c.w.Error("ERR storage error: " + err.Error())
	}
}

// ok reports whether err is nil, replying with the error otherwise, in the
// spirit of Redis's ...OrReply helpers.
func (c *Client) ok(cmd string, err error) bool {
	if err != nil {
		c.replyErr(cmd, err)
		return false
	}
	return true
}

// bulkOrNull writes a bulk string, or null when found is false.
func (c *Client) bulkOrNull(v []byte, found bool) {
	if !found {
		c.w.Null()
		return
	}
	c.w.Bulk(v)
}
