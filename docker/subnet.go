package docker

import (
	"fmt"
	"hash/fnv"
	"net/netip"
)

// Subnets faultline picks from: 10.77.<x>.0/24. A /24 leaves room for 240
// nodes at .11 and up; the gateway is .1.
const (
	subnetPrefix   = "10.77"
	firstNodeOctet = 11
	maxNodes       = 240
)

// candidateSubnets returns the 10.77.x.0/24 subnets in the order to try for a
// run: starting at a slot derived from the run id (so concurrent runs tend to
// pick different subnets), skipping every subnet that overlaps one already in
// use by a Docker network.
func candidateSubnets(runID string, inUse []netip.Prefix) []netip.Prefix {
	h := fnv.New32a()
	h.Write([]byte(runID))
	start := int(h.Sum32() % 256)
	var out []netip.Prefix
	for i := range 256 {
		p := netip.MustParsePrefix(fmt.Sprintf("%s.%d.0/24", subnetPrefix, (start+i)%256))
		if !overlapsAny(p, inUse) {
			out = append(out, p)
		}
	}
	return out
}

func overlapsAny(p netip.Prefix, others []netip.Prefix) bool {
	for _, o := range others {
		if p.Overlaps(o) {
			return true
		}
	}
	return false
}

// nodeIP is the static address of the i-th node (0-based) in subnet.
func nodeIP(subnet netip.Prefix, i int) netip.Addr {
	b := subnet.Addr().As4()
	b[3] = byte(firstNodeOctet + i)
	return netip.AddrFrom4(b)
}

// gatewayIP is the bridge's address in subnet.
func gatewayIP(subnet netip.Prefix) netip.Addr {
	b := subnet.Addr().As4()
	b[3] = 1
	return netip.AddrFrom4(b)
}
