package main

import (
	"bytes"
	"net"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseIPs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "10.77.0.11", want: []string{"10.77.0.11"}},
		{in: "10.77.0.11, 10.77.0.12,", want: []string{"10.77.0.11", "10.77.0.12"}},
		{in: "n1", wantErr: true},
		{in: "fe80::1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseIPs(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			var s []string
			for _, ip := range got {
				s = append(s, ip.String())
			}
			assert.Equal(t, tt.want, s)
		})
	}
}

func TestLossThreshold(t *testing.T) {
	tests := []struct {
		percent float64
		want    uint32
	}{
		{0, 0}, {0.01, 1}, {12.5, 1250}, {50, 5000}, {100, lossModulus},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, lossThreshold(tt.percent), "percent %v", tt.percent)
	}
}

func TestGrudgeRuleMatchesSourceAndDrops(t *testing.T) {
	exprs := grudgeRule(net.ParseIP("10.77.3.12"))
	require.Len(t, exprs, 3)
	payload := exprs[0].(*expr.Payload)
	assert.Equal(t, expr.PayloadBaseNetworkHeader, payload.Base)
	assert.Equal(t, uint32(12), payload.Offset, "IPv4 source address offset")
	assert.Equal(t, uint32(4), payload.Len)
	cmp := exprs[1].(*expr.Cmp)
	assert.Equal(t, expr.CmpOpEq, cmp.Op)
	assert.Equal(t, []byte{10, 77, 3, 12}, cmp.Data)
	assert.Equal(t, expr.VerdictDrop, exprs[2].(*expr.Verdict).Kind)
}

func TestSilenceRuleMatchesDestinationAndDrops(t *testing.T) {
	exprs := silenceRule(net.ParseIP("10.77.3.14"))
	require.Len(t, exprs, 3)
	payload := exprs[0].(*expr.Payload)
	assert.Equal(t, expr.PayloadBaseNetworkHeader, payload.Base)
	assert.Equal(t, uint32(16), payload.Offset, "IPv4 destination address offset")
	assert.Equal(t, uint32(4), payload.Len)
	assert.Equal(t, []byte{10, 77, 3, 14}, exprs[1].(*expr.Cmp).Data)
	assert.Equal(t, expr.VerdictDrop, exprs[2].(*expr.Verdict).Kind)
	assert.Equal(t, nftables.ChainHookOutput, baseChain(silenceChain).Hooknum, "silence filters what the node sends")
	assert.Equal(t, nftables.ChainHookInput, baseChain(grudgeChain).Hooknum)
}

func TestLossRuleComparesRandomNumberInNetworkOrder(t *testing.T) {
	exprs := lossRule(net.ParseIP("10.77.3.13"), 2500)
	require.Len(t, exprs, 6)
	ng := exprs[2].(*expr.Numgen)
	assert.Equal(t, uint32(lossModulus), ng.Modulus)
	bo := exprs[3].(*expr.Byteorder)
	assert.Equal(t, expr.ByteorderHton, bo.Op)
	cmp := exprs[4].(*expr.Cmp)
	assert.Equal(t, expr.CmpOpLt, cmp.Op)
	assert.Equal(t, []byte{0, 0, 0x09, 0xc4}, cmp.Data, "2500 big-endian")
	assert.Equal(t, expr.VerdictDrop, exprs[5].(*expr.Verdict).Kind)
}

func TestRunRejectsBadArgumentsWithOneLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no subcommand", nil},
		{"unknown subcommand", []string{"explode"}},
		{"bad grudge address", []string{"grudge", "--drop-from", "n2"}},
		{"loss percent out of range", []string{"loss", "--from", "10.0.0.1", "--percent", "150"}},
		{"loss percent missing", []string{"loss", "--from", "10.0.0.1"}},
		{"connect without address", []string{"connect"}},
		{"unknown flag", []string{"heal", "--force"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			assert.Equal(t, exitUsage, code)
			assert.Equal(t, 1, bytes.Count(stderr.Bytes(), []byte("\n")), "one line: %q", stderr.String())
			assert.Empty(t, stdout.String())
		})
	}
}

func TestConnectReportsReachability(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"connect", "--addr", addr, "--timeout", "1s"}, &stdout, &stderr), stderr.String())
	require.NoError(t, l.Close())
	stderr.Reset()
	assert.Equal(t, exitNo, run([]string{"connect", "--addr", addr, "--timeout", "1s"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "connect "+addr)
}
