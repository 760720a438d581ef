package sim

import (
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/node/client"
	"github.com/faultline/faultline/node/server"
)

// The path of one client request through the simulated cluster, as the
// HTTP API takes it: the client sends it to a node; the node answers at
// once, forwards it to the leader, or hands it to its update loop
// (server.Handle decides, as the HTTP handlers do); the answer travels back.

// forwardDialTimeout is how long a follower tries to reach a leader it has
// no connection to before answering 503 (forwardTransport's dial timeout).
const forwardDialTimeout = time.Second

// clientEnd stands for a client in network.delay: clients are never slowed
// themselves, only the nodes they talk to.
const clientEnd = ""

// request sends req from a client to node n; reply gets the answer at the
// client, if one ever comes back.
func (w *world) request(n *node, req server.Request, reply func(server.Answer)) {
	w.after(w.net.delay(clientEnd, n.id), func() {
		if !n.up() {
			// Nothing listens: the connection is refused, nothing was sent.
			w.after(w.net.delay(n.id, clientEnd), func() {
				reply(server.Answer{Status: http.StatusServiceUnavailable, Body: client.KVResponse{Error: "connection refused"}})
			})
			return
		}
		back := func(a server.Answer) { w.after(w.net.delay(n.id, clientEnd), func() { reply(a) }) }
		n.input(n.incarnation, func(srv *server.Server) { w.admit(n, srv, req, back) })
	})
}

// admit runs one request on node n's process.
func (w *world) admit(n *node, srv *server.Server, req server.Request, reply func(server.Answer)) {
	adm := srv.Handle(req)
	switch {
	case adm.Answer != nil:
		reply(*adm.Answer)
	case adm.Pending != nil:
		n.hold(adm.Pending, reply)
	default:
		w.forward(n, srv, adm.Forward, req, reply)
	}
}

// forward sends req from follower n to leader over the nodes' network and
// relays the answer, classified as the HTTP forwarder classifies it: 503 if
// the leader could not be reached, 504 if no answer came back in time.
func (w *world) forward(n *node, srv *server.Server, leader string, req server.Request, reply func(server.Answer)) {
	inc := n.incarnation
	if !w.net.linked(n.id, leader) || !w.node(leader).up() {
		w.after(forwardDialTimeout, func() {
			n.input(inc, func(*server.Server) {
				reply(server.Answer{Status: http.StatusServiceUnavailable,
					Body: client.KVResponse{Error: fmt.Sprintf("forward to leader %s: cannot connect", leader)}})
			})
		})
		return
	}
	answered := false
	relay := func(a server.Answer) {
		n.input(inc, func(*server.Server) {
			if !answered {
				answered = true
				reply(a)
			}
		})
	}
	_, timeout := srv.Timeouts()
	w.after(timeout, func() {
		relay(server.Answer{Status: http.StatusGatewayTimeout,
			Body: client.KVResponse{Error: fmt.Sprintf("forwarded to leader %s, no answer; outcome unknown", leader)}})
	})
	req.ForwardedBy = n.id
	l := w.node(leader)
	w.after(w.net.delay(n.id, leader), func() {
		if !w.net.linked(n.id, leader) {
			return // the partition swallowed it; the timeout answers
		}
		back := func(a server.Answer) {
			w.after(w.net.delay(leader, n.id), func() {
				if w.net.linked(n.id, leader) {
					relay(a)
				}
			})
		}
		l.input(l.incarnation, func(lsrv *server.Server) { w.admit(l, lsrv, req, back) })
	})
}
