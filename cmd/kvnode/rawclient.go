package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// rawClient is the bench's lean HTTP/1.1 client: one keep-alive TCP
// connection, one request in flight, no goroutines. On a 2-core machine the
// node/client (net/http) costs more CPU than the three nodes together, so
// the bench uses this one by default to measure the store rather than the
// client; --client=go measures with node/client instead.
type rawClient struct {
	addr     string
	clientID string
	seq      uint64
	timeout  time.Duration
	conn     net.Conn
	r        *bufio.Reader
	buf      []byte
	body     []byte
}

func newRawClient(addr, clientID string, timeout time.Duration) *rawClient {
	return &rawClient{addr: addr, clientID: clientID, timeout: timeout}
}

func (c *rawClient) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// put writes value under key and returns the HTTP status.
func (c *rawClient) put(key, value string) (int, error) {
	c.seq++
	c.body = append(c.body[:0], `{"value":"`...)
	c.body = append(c.body, value...)
	c.body = append(c.body, `"}`...)
	c.buf = append(c.buf[:0], "PUT /kv/"...)
	c.buf = append(c.buf, key...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: kvnode\r\nContent-Type: application/json\r\nX-Client-Id: "...)
	c.buf = append(c.buf, c.clientID...)
	c.buf = append(c.buf, "\r\nX-Seq: "...)
	c.buf = strconv.AppendUint(c.buf, c.seq, 10)
	c.buf = append(c.buf, "\r\nContent-Length: "...)
	c.buf = strconv.AppendInt(c.buf, int64(len(c.body)), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = append(c.buf, c.body...)
	return c.roundTrip()
}

// get reads key and returns the HTTP status.
func (c *rawClient) get(key string) (int, error) {
	c.buf = append(c.buf[:0], "GET /kv/"...)
	c.buf = append(c.buf, key...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: kvnode\r\n\r\n"...)
	return c.roundTrip()
}

func (c *rawClient) roundTrip() (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return 0, fmt.Errorf("dial %s: %w", c.addr, err)
		}
		c.conn = conn
		c.r = bufio.NewReaderSize(conn, 16<<10)
	}
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write(c.buf); err != nil {
		c.close()
		return 0, fmt.Errorf("send to %s: %w", c.addr, err)
	}
	status, err := c.readResponse()
	if err != nil {
		c.close()
		return 0, fmt.Errorf("answer from %s: %w", c.addr, err)
	}
	return status, nil
}

// readResponse reads the status line, the headers and a Content-Length body.
func (c *rawClient) readResponse() (int, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("answer without Content-Length")
	}
	if _, err := c.r.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
