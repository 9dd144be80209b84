// Command kvdprobe is the well-behaved client of kvd's reliability campaign
// (integration/reliability_*_test.go, docs/reliability.md). It runs in its
// own process, so that the latency it measures is the server's and not the
// scheduling of a test process busy generating an attack.
//
// It connects to -addr (authenticating with -password when given),
// alternates SET and GET on its own keys about once per -gap, checks every
// reply, and records each round trip. When its standard input closes (or
// after -duration), it prints one JSON object with the figures on standard
// output and exits.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

type result struct {
	N      int      `json:"n"`
	P50us  int64    `json:"p50_us"`
	P99us  int64    `json:"p99_us"`
	P999us int64    `json:"p999_us"`
	MaxUs  int64    `json:"max_us"`
	Errors []string `json:"errors,omitempty"`
}

func encode(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// readReply reads one RESP2 reply (simple, error, integer, bulk, nil) whole.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) > 0 && line[0] == '$' {
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil || n < 0 {
			return line, err
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(r, data); err != nil {
			return line, err
		}
		return line + string(data), nil
	}
	return line, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "server address")
	password := flag.String("password", "", "AUTH password")
	gap := flag.Duration("gap", time.Millisecond, "pause between commands")
	duration := flag.Duration("duration", 0, "stop after this long (0: when stdin closes)")
	flag.Parse()

	stop := make(chan struct{})
	go func() {
		if *duration > 0 {
			time.Sleep(*duration)
		} else {
			io.Copy(io.Discard, os.Stdin)
		}
		close(stop)
	}()

	var res result
	var lat []time.Duration
	fail := func(format string, args ...any) {
		if len(res.Errors) < 20 {
			res.Errors = append(res.Errors, fmt.Sprintf(format, args...))
		}
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			fail("dial: %v", err)
			return nil, nil
		}
		c.(*net.TCPConn).SetNoDelay(true)
		r := bufio.NewReader(c)
		if *password != "" {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write(encode("AUTH", *password))
			if got, err := readReply(r); got != "+OK\r\n" {
				fail("AUTH: %q %v", got, err)
			}
		}
		return c, r
	}
	conn, r := dial()
	for i := 0; ; i++ {
		select {
		case <-stop:
			goto done
		default:
		}
		if conn == nil {
			time.Sleep(50 * time.Millisecond)
			conn, r = dial()
			continue
		}
		key := "probe:" + strconv.Itoa(i/2%16)
		val := "probe-value-" + strconv.Itoa(i/2)
		var cmd []byte
		var want string
		if i%2 == 0 {
			cmd, want = encode("SET", key, val), "+OK\r\n"
		} else {
			cmd, want = encode("GET", key), fmt.Sprintf("$%d\r\n%s\r\n", len(val), val)
		}
		start := time.Now()
		conn.SetDeadline(start.Add(10 * time.Second))
		_, err := conn.Write(cmd)
		var got string
		if err == nil {
			got, err = readReply(r)
		}
		d := time.Since(start)
		if err != nil {
			fail("command %d after %v: %v", i, d, err)
			conn.Close()
			conn = nil
			i |= 1 // start again with a SET
			continue
		}
		lat = append(lat, d)
		if got != want {
			fail("command %d: got %q, want %q", i, got, want)
		}
		time.Sleep(*gap)
	}
done:
	slices.Sort(lat)
	res.N = len(lat)
	if len(lat) > 0 {
		q := func(f float64) int64 { return lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds() }
		res.P50us, res.P99us, res.P999us, res.MaxUs = q(0.5), q(0.99), q(0.999), lat[len(lat)-1].Microseconds()
	}
	json.NewEncoder(os.Stdout).Encode(res)
}
