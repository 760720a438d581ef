package main

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// probeNetem checks whether the kernel offers the netem queueing discipline
// by installing a netem root qdisc on the loopback interface over rtnetlink
// (what `tc qdisc add dev lo root netem` does) and removing it again. The
// image has no `tc` and no shell, so this talks netlink directly.
func probeNetem() error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("find loopback interface: %w", err)
	}
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return fmt.Errorf("open rtnetlink socket: %w", err)
	}
	defer conn.Close()

	add := netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_NEWQDISC,
			Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl,
		},
		Data: qdiscMessage(lo.Index, true),
	}
	if _, err := conn.Execute(add); err != nil {
		return fmt.Errorf("add netem qdisc on lo: %w (the kernel may lack sch_netem)", err)
	}
	del := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_DELQDISC, Flags: netlink.Request | netlink.Acknowledge},
		Data:   qdiscMessage(lo.Index, false),
	}
	if _, err := conn.Execute(del); err != nil {
		return fmt.Errorf("delete probe netem qdisc on lo: %w", err)
	}
	return nil
}

// qdiscMessage encodes a struct tcmsg for the root qdisc of ifindex, with the
// netem kind and a zero-delay tc_netem_qopt when withNetem is set.
func qdiscMessage(ifindex int, withNetem bool) []byte {
	// struct tcmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u32 handle; u32 parent; u32 info; }
	msg := make([]byte, 20)
	msg[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(msg[4:], uint32(ifindex))
	binary.NativeEndian.PutUint32(msg[8:], 0)             // handle: let the kernel choose
	binary.NativeEndian.PutUint32(msg[12:], tcRootHandle) // parent
	if !withNetem {
		return msg
	}
	// struct tc_netem_qopt { u32 latency, limit, loss, gap, duplicate, jitter; }
	qopt := make([]byte, 24)
	binary.NativeEndian.PutUint32(qopt[4:], 1000) // limit: packets queued
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.TCA_KIND, "netem")
	ae.Bytes(unix.TCA_OPTIONS, qopt)
	attrs, err := ae.Encode()
	if err != nil {
		// Encoding fixed-size attributes cannot fail.
		panic(fmt.Sprintf("encode netem attributes: %v", err))
	}
	return append(msg, attrs...)
}

// tcRootHandle is TC_H_ROOT: the qdisc is attached at the root of the interface.
const tcRootHandle = 0xFFFFFFFF
