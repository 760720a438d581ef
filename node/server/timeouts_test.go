package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shortTimeouts makes a slow or idle client connection end within a test.
func shortTimeouts(cfg *Config) {
	cfg.ClientReadTimeout = 200 * time.Millisecond
	cfg.ClientIdleTimeout = 200 * time.Millisecond
}

// singleNode starts a one-node cluster, waits for it to lead and returns
// its client address.
func singleNode(t *testing.T, change func(*Config)) string {
	t.Helper()
	c := startInProcess(t, 1, change)
	return c.servers[c.leader(t)].ClientAddr()
}

// TestClientTimeoutDefaults: the write timeout follows --request-timeout
// (a follower waits the leader's whole request timeout), and a write
// timeout too short for a forwarded request is refused.
func TestClientTimeoutDefaults(t *testing.T) {
	cases := []struct {
		name              string
		change            func(*Config)
		read, write, idle time.Duration
		wantErr           string
	}{
		{"defaults at 2s", func(*Config) {}, 5 * time.Second, 9 * time.Second, 2 * time.Minute, ""},
		{"defaults at 30s", func(c *Config) { c.RequestTimeout = 30 * time.Second }, 5 * time.Second, 37 * time.Second, 2 * time.Minute, ""},
		{"short read timeout", func(c *Config) { c.ClientReadTimeout = 200 * time.Millisecond }, 200 * time.Millisecond, 4200 * time.Millisecond, 2 * time.Minute, ""},
		{"explicit", func(c *Config) { c.ClientWriteTimeout, c.ClientIdleTimeout = time.Minute, time.Second }, 5 * time.Second, time.Minute, time.Second, ""},
		{"write shorter than a forward", func(c *Config) { c.ClientWriteTimeout = 3 * time.Second }, 0, 0, 0, "raise it or leave it zero"},
		{"negative", func(c *Config) { c.ClientIdleTimeout = -time.Second }, 0, 0, 0, "must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			cfg.setDefaults()
			err := cfg.Validate()
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.read, cfg.ClientReadTimeout)
			assert.Equal(t, tc.write, cfg.ClientWriteTimeout)
			assert.Equal(t, tc.idle, cfg.ClientIdleTimeout)
			assert.Greater(t, cfg.ClientWriteTimeout, cfg.forwardTimeout()+cfg.ClientReadTimeout,
				"the write timeout outlasts reading the body and forwarding to the leader")
		})
	}
}

// TestSlowClientIsCutOff: a client that trickles its headers or body, or
// holds a keep-alive connection idle, loses the connection after the
// configured timeout instead of keeping it for ever.
func TestSlowClientIsCutOff(t *testing.T) {
	addr := singleNode(t, shortTimeouts)
	const bound = 5 * time.Second // far above the 200 ms timeouts; the old server never closed

	trickle := func(conn net.Conn, data string) {
		for i := range len(data) {
			if _, err := conn.Write([]byte{data[i]}); err != nil {
				return // cut off
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cases := []struct {
		name string
		// talk writes to the connection (it may block until cut off).
		talk       func(conn net.Conn)
		wantStatus int // the answer before the close; 0: none expected
	}{
		{
			name: "slow body",
			talk: func(conn net.Conn) {
				_, _ = io.WriteString(conn, "PUT /kv/k HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
				trickle(conn, `{"value":"`+strings.Repeat("v", 1000)) // 20 s of body
			},
			wantStatus: http.StatusRequestTimeout,
		},
		{
			name: "slow headers",
			talk: func(conn net.Conn) {
				trickle(conn, "PUT /kv/k HTTP/1.1\r\nHost: n1\r\nX-Padding: "+strings.Repeat("p", 1000))
			},
		},
		{
			name: "idle keep-alive",
			talk: func(conn net.Conn) {
				_, _ = io.WriteString(conn, "GET /status?digest=false HTTP/1.1\r\nHost: n1\r\n\r\n") // then nothing
			},
			wantStatus: http.StatusOK,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			go tc.talk(conn)

			require.NoError(t, conn.SetReadDeadline(time.Now().Add(bound)))
			r := bufio.NewReader(conn)
			if tc.wantStatus != 0 {
				resp, err := http.ReadResponse(r, nil)
				require.NoError(t, err, "an answer before the connection closes")
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, tc.wantStatus, resp.StatusCode)
			}
			// Until the node closes the connection: a clean close (a nil
			// error from Copy) or a reset both end it; our deadline must not.
			_, err = io.Copy(io.Discard, r)
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				t.Fatalf("the connection was still open after %s", bound)
			}
		})
	}
}
