package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadyHandsMessagesOutOnceAndStateUntilAdvance(t *testing.T) {
	r := follower(t, 1, 0, nil)
	require.NoError(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 2, Index: 0, LogTerm: 0, Entries: ents(1, 2, 2), Commit: 1}))
	rd := r.Ready()
	require.Len(t, rd.Messages, 1)
	require.NotNil(t, rd.HardState)
	assert.Equal(t, HardState{Term: 2, Commit: 1}, *rd.HardState)
	assert.Len(t, rd.Entries, 2)
	assert.Len(t, rd.CommittedEntries, 1)

	// Without Advance, a second Ready repeats what must be persisted and
	// applied, but not the messages.
	again := r.Ready()
	assert.Empty(t, again.Messages)
	assert.Equal(t, rd.HardState, again.HardState)
	assert.Equal(t, rd.Entries, again.Entries)
	assert.Equal(t, rd.CommittedEntries, again.CommittedEntries)

	r.Advance(again)
	assert.False(t, r.HasReady())
	st := r.Status()
	assert.Equal(t, Status{ID: "n2", Role: Follower, Term: 2, Leader: "n1", Commit: 1, Applied: 1,
		FirstIndex: 1, LastIndex: 2}, st)
}

func TestRestartedNodeRefusesVotesForAnElectionTimeout(t *testing.T) {
	// A node that acknowledged a leader's heartbeat and then restarted
	// must not help elect another leader while that leader's lease may
	// still hold.
	r := follower(t, 2, 0, nil)
	vote := Message{Type: MsgVote, From: "n3", To: "n2", Term: 3, Index: 9, LogTerm: 2}
	require.NoError(t, r.Step(vote))
	rd := r.Ready()
	require.Len(t, rd.Messages, 1)
	assert.True(t, rd.Messages[0].Reject)
	assert.Equal(t, uint64(2), r.term)
	r.Advance(rd)

	for range r.cfg.ElectionTicks {
		r.Tick()
	}
	require.NoError(t, r.Step(vote))
	rd = r.Ready()
	var resp *Message
	for i := range rd.Messages {
		if rd.Messages[i].Type == MsgVoteResp {
			resp = &rd.Messages[i]
		}
	}
	require.NotNil(t, resp)
	assert.False(t, resp.Reject, "after an election timeout it votes")
	require.NotNil(t, rd.HardState)
	assert.Equal(t, "n3", rd.HardState.Vote)
}

func TestLeaderRefusesAnotherLeadersAppend(t *testing.T) {
	nw := newNetwork(t, 3, nil)
	l := nw.elect()
	r := nw.nodes[l]
	err := r.Step(Message{Type: MsgApp, From: otherThan(nw.ids, l), To: l, Term: r.term, Index: 1, LogTerm: r.term})
	assert.ErrorContains(t, err, "two leaders in one term")
	assert.Equal(t, Leader, r.role)
}

func TestStepRejectsMisaddressedMessages(t *testing.T) {
	r := follower(t, 1, 0, nil)
	assert.ErrorContains(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n3", Term: 1}), "addressed to")
	assert.ErrorContains(t, r.Step(Message{Type: MsgApp, From: "n9", To: "n2", Term: 1}), "not a peer")
	assert.ErrorContains(t, r.Step(Message{Type: MsgApp, From: "n2", To: "n2", Term: 1}), "not a peer")
	assert.ErrorContains(t, r.Step(Message{Type: 99, From: "n1", To: "n2", Term: 5}), "unknown message type")
	assert.Equal(t, uint64(1), r.term, "a rejected message changes nothing")
	assert.False(t, r.HasReady())
}
