package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The agent's nftables layout. Everything lives in one table, "ip faultline",
// so healing is deleting that table and Docker's own tables are never touched.
//
//	table ip faultline {
//	  chain grudge { type filter hook input priority raw; policy accept;
//	    ip saddr 10.77.0.12 drop ... }
//	  chain silence { type filter hook output priority raw; policy accept;
//	    ip daddr 10.77.0.14 drop ... }
//	  chain loss   { type filter hook input priority raw; policy accept;
//	    ip saddr 10.77.0.13 numgen random mod 10000 < 2500 drop ... }
//	}
//
// Partition semantics: a grudge says "this node drops traffic FROM these
// nodes", so only the input hook is filtered. A one-way grudge therefore
// still breaks TCP both ways (the SYN-ACK or the data is dropped on the
// grudging side) but lets one-way datagrams through, exactly like Jepsen's
// `iptables -A INPUT -s X -j DROP`. A symmetric partition is a grudge on both
// sides, which is what the nemesis shapes produce.
//
// The silence chain is the other direction, for when the receiver cannot
// apply a rule itself: a frozen container cannot run the agent, but its
// peers can stop sending to it, so nothing reaches its socket buffers to be
// read the moment it thaws.
//
// The chains are independent base chains, so replacing the grudge leaves
// packet loss alone and vice versa. The chains run at raw
// priority (-300), before conntrack, so established connections are cut too.
const (
	tableName    = "faultline"
	grudgeChain  = "grudge"
	silenceChain = "silence"
	lossChain    = "loss"
	// lossModulus is the range of the random number drawn per packet; 10000
	// gives loss percentages a resolution of 0.01%.
	lossModulus = 10000
)

var faultlineTable = &nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4}

func baseChain(name string) *nftables.Chain {
	policy := nftables.ChainPolicyAccept
	hook := nftables.ChainHookInput
	if name == silenceChain {
		hook = nftables.ChainHookOutput
	}
	return &nftables.Chain{
		Name:     name,
		Table:    faultlineTable,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  hook,
		Priority: nftables.ChainPriorityRaw,
		Policy:   &policy,
	}
}

// applyGrudge atomically replaces the grudge chain's rules with one drop
// rule per source, and the silence chain's with one per destination.
func applyGrudge(dropFrom, dropTo []net.IP) error {
	rules := make([][]expr.Any, 0, len(dropFrom))
	for _, ip := range dropFrom {
		rules = append(rules, grudgeRule(ip))
	}
	if err := replaceChain(grudgeChain, rules); err != nil {
		return err
	}
	rules = make([][]expr.Any, 0, len(dropTo))
	for _, ip := range dropTo {
		rules = append(rules, silenceRule(ip))
	}
	return replaceChain(silenceChain, rules)
}

// applyLoss atomically replaces the loss chain's rules: packets from each
// source are dropped with the given probability. percent 0 clears the chain.
func applyLoss(from []net.IP, percent float64) error {
	threshold := lossThreshold(percent)
	var rules [][]expr.Any
	if threshold > 0 {
		for _, ip := range from {
			rules = append(rules, lossRule(ip, threshold))
		}
	}
	return replaceChain(lossChain, rules)
}

// replaceChain creates the table and chain if needed, flushes the chain and
// adds the rules, all in one netlink batch (one nftables transaction), so
// there is no moment with a half-applied rule set.
func replaceChain(name string, rules [][]expr.Any) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables netlink socket: %w", err)
	}
	conn.AddTable(faultlineTable)
	chain := conn.AddChain(baseChain(name))
	conn.FlushChain(chain)
	for _, exprs := range rules {
		conn.AddRule(&nftables.Rule{Table: faultlineTable, Chain: chain, Exprs: exprs})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("apply nftables chain %s %s: %w (is NET_ADMIN granted to the container?)", tableName, name, err)
	}
	return nil
}

// heal deletes the faultline table; a missing table is already healed.
func heal() error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables netlink socket: %w", err)
	}
	if _, err := conn.ListTableOfFamily(tableName, nftables.TableFamilyIPv4); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("look up nftables table %s: %w", tableName, err)
	}
	conn.DelTable(faultlineTable)
	if err := conn.Flush(); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("delete nftables table %s: %w", tableName, err)
	}
	return nil
}

// probeNftables checks that this namespace accepts nftables changes by
// creating and deleting a scratch table.
func probeNftables() error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables netlink socket: %w", err)
	}
	scratch := &nftables.Table{Name: tableName + "_probe", Family: nftables.TableFamilyIPv4}
	conn.AddTable(scratch)
	conn.AddChain(&nftables.Chain{Name: "probe", Table: scratch, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRaw})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("create nftables table: %w", err)
	}
	conn.DelTable(scratch)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("delete nftables table: %w", err)
	}
	return nil
}

// matchSource loads the IPv4 source address into register 1 and compares it with ip.
func matchSource(ip net.IP) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.To4()},
	}
}

// grudgeRule is `ip saddr IP drop`.
func grudgeRule(ip net.IP) []expr.Any {
	return append(matchSource(ip), &expr.Verdict{Kind: expr.VerdictDrop})
}

// silenceRule is `ip daddr IP drop`.
func silenceRule(ip net.IP) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.To4()},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// lossRule is `ip saddr IP numgen random mod lossModulus < threshold drop`.
// numgen writes a host-order integer; like nft itself, convert it to network
// order before the comparison, because cmp compares bytes.
func lossRule(ip net.IP, threshold uint32) []expr.Any {
	bound := make([]byte, 4)
	binary.BigEndian.PutUint32(bound, threshold)
	return append(matchSource(ip),
		&expr.Numgen{Register: 1, Modulus: lossModulus, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: bound},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
}
