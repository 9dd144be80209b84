package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// client-output-buffer-limit: Redis's per-class limits on the replies a
// client has not read. kvd has only normal clients (no replicas, no
// pub/sub), so only the normal class is enforced; the other two are kept
// so that CONFIG GET and SET behave as in Redis.
//
// kvd never buffers more than one read batch of replies per client: when a
// client stops reading, the flush blocks and kvd stops reading from it. The
// limits add what Redis does on top: a hard limit closes a client whose
// queued replies pass it (a pipeline of GETs of a large value), a soft
// limit closes one whose replies stay above it for soft_seconds.

// outputLimit is one class's limits: bytes, bytes and seconds; 0 = none.
type outputLimit struct {
	hard, soft int64
	seconds    int
}

// outputLimits are the normal, replica and pubsub classes, in that order.
type outputLimits [3]outputLimit

var outputClassNames = [3]string{"normal", "slave", "pubsub"}

func defaultOutputLimits() outputLimits {
	return outputLimits{
		{},
		{hard: 256 << 20, soft: 64 << 20, seconds: 60},
		{hard: 32 << 20, soft: 8 << 20, seconds: 60},
	}
}

// String formats the limits as CONFIG GET shows them.
func (l outputLimits) String() string {
	var b strings.Builder
	for i, c := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s %d %d %d", outputClassNames[i], c.hard, c.soft, c.seconds)
	}
	return b.String()
}

// parseOutputLimits applies "class hard soft seconds ..." to l, returning
// Redis's error text on failure (and l unchanged).
func parseOutputLimits(l outputLimits, v string) (outputLimits, error) {
	f := strings.Fields(v)
	if len(f)%4 != 0 {
		return l, fmt.Errorf("Wrong number of arguments in buffer limit configuration.")
	}
	for i := 0; i < len(f); i += 4 {
		class := -1
		switch strings.ToLower(f[i]) {
		case "normal":
			class = 0
		case "slave", "replica":
			class = 1
		case "pubsub":
			class = 2
		}
		if class < 0 {
			return l, fmt.Errorf("Invalid client class specified in buffer limit configuration.")
		}
		hard, err1 := ParseMemory(f[i+1])
		soft, err2 := ParseMemory(f[i+2])
		secs, err3 := strconv.Atoi(f[i+3])
		if err1 != nil || err2 != nil || err3 != nil || hard < 0 || soft < 0 || secs < 0 {
			return l, fmt.Errorf("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
		}
		l[class] = outputLimit{hard: hard, soft: soft, seconds: secs}
	}
	return l, nil
}

// checkHardLimit applies the normal class's hard limit to the replies
// this read batch has produced so far (written early or still in c.w). It
// reports false when it closed the client for passing it.
func (s *Server) checkHardLimit(c *Client) bool {
	lim := s.params.outputLimit()
	queued := c.written + int64(c.w.Len())
	if lim.hard == 0 || queued <= lim.hard {
		return true
	}
	s.log.Warn("client closed for overcoming of output buffer limits",
		"addr", c.net.RemoteAddr().String(), "queued", queued, "hard", lim.hard)
	// Redis drops the pending replies; closing the socket also makes
	// redcon's flush fail at once.
	c.w.Reset()
	c.net.Close()
	c.closing = true
	return false
}

// armSoftLimit runs once a read batch's commands are done, before redcon
// flushes their replies: above the soft limit, the client has soft_seconds
// to read them all, or the flush fails and the connection closes. Armed
// only now, the deadline cannot run out while a blocking command of the
// batch waits. guardConn.Read clears it when the flush is over.
func (s *Server) armSoftLimit(c *Client) {
	if lim := s.params.outputLimit(); lim.soft > 0 && int64(c.w.Len()) > lim.soft && !c.closing {
		c.net.SetWriteDeadline(time.Now().Add(time.Duration(max(lim.seconds, 1)) * time.Second))
	}
}
