package transport

import (
	"context"
	"net"
	"testing"

	"github.com/faultline/faultline/node/raft"
)

// BenchmarkPairThroughput measures messages per second between two
// transports on loopback, with small appends like a busy pipeline's.
func BenchmarkPairThroughput(b *testing.B) {
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	peers := map[string]string{"a": lnA.Addr().String(), "b": lnB.Addr().String()}
	a, err := New(Config{ID: "a", Listener: lnA, Peers: peers, SendQueue: 1 << 16, Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(Config{ID: "b", Listener: lnB, Peers: peers, Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	for _, tr := range []*Transport{a, r} {
		if err := tr.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer tr.Close()
	}
	msg := raft.Message{Type: raft.MsgApp, From: "a", To: "b", Term: 3, Index: 10, Commit: 9,
		Entries: []raft.Entry{{Term: 3, Index: 11, Data: make([]byte, 64)}}}
	const batch = 64
	msgs := make([]raft.Message, batch)
	for i := range msgs {
		msgs[i] = msg
	}
	b.ResetTimer()
	received := 0
	for received < b.N {
		a.Send(msgs)
		for i := 0; i < batch; i++ {
			<-r.Receive()
		}
		received += batch
	}
	b.ReportMetric(float64(received)/b.Elapsed().Seconds(), "msgs/s")
}
