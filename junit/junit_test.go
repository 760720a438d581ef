package junit

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsed is an independent reading of the document, as a CI dashboard would.
type parsed struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suite    struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Time       string `xml:"time,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Time    string `xml:"time,attr"`
			Failure *struct {
				Type    string `xml:"type,attr"`
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Type string `xml:"type,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name  string
		cases []Case
		// want: tests, failures, errors, skipped
		want [4]int
	}{
		{"no cases", nil, [4]int{0, 0, 0, 0}},
		{"passing", []Case{{Name: "a"}, {Name: "b"}}, [4]int{2, 0, 0, 0}},
		{"one of each", []Case{
			{Name: "pass"},
			{Name: "fail", Failure: &Problem{Type: "invalid", Message: "m"}},
			{Name: "error", Error: &Problem{Type: "harness-error"}},
			{Name: "skip", Skipped: "equivalent"},
		}, [4]int{4, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(Suite{Name: "s", Cases: tt.cases})
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(b), xml.Header))
			var p parsed
			require.NoError(t, xml.Unmarshal(b, &p))
			assert.Equal(t, tt.want, [4]int{p.Tests, p.Failures, p.Errors, p.Skipped})
			assert.Equal(t, tt.want[0], p.Suite.Tests)
			assert.Len(t, p.Suite.Cases, len(tt.cases))
		})
	}
}

func TestEncodeFields(t *testing.T) {
	b, err := Encode(Suite{
		Name: "faultline", Start: time.Date(2026, 12, 7, 1, 2, 3, 0, time.FixedZone("x", 3600)), Time: 1500 * time.Millisecond,
		Properties: map[string]string{"seed": "9", "budget": "1m"},
		Cases: []Case{{Name: "run <1>", Time: 250 * time.Millisecond, SystemOut: "reproduce: x & y",
			Failure: &Problem{Type: "invalid", Message: "lost write", Text: "diff"}}},
	})
	require.NoError(t, err)
	var p parsed
	require.NoError(t, xml.Unmarshal(b, &p))
	s := p.Suite
	assert.Equal(t, "faultline", s.Name)
	assert.Equal(t, "1.500", s.Time)
	assert.Equal(t, "2026-12-07T00:02:03", s.Timestamp, "in UTC")
	require.Len(t, s.Properties, 2)
	assert.Equal(t, "budget", s.Properties[0].Name, "properties sorted by name")
	c := s.Cases[0]
	assert.Equal(t, "run <1>", c.Name, "escaped and read back")
	assert.Equal(t, "0.250", c.Time)
	assert.Equal(t, "reproduce: x & y", c.SystemOut)
	require.NotNil(t, c.Failure)
	assert.Equal(t, "invalid", c.Failure.Type)
	assert.Equal(t, "lost write", c.Failure.Message)
	assert.Equal(t, "diff", c.Failure.Text)
	assert.Nil(t, c.Error)
	assert.Nil(t, c.Skipped)
	assert.NotContains(t, string(b), "<properties></properties>")
}
