package jepsen

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeAll reads every top-level value of text.
func decodeAll(t *testing.T, text string) ([]Value, error) {
	t.Helper()
	dec := NewDecoder(strings.NewReader(text))
	var out []Value
	for {
		v, err := dec.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func TestDecoderValues(t *testing.T) {
	tests := []struct {
		name string
		text string
		// want is each top-level value rendered back with Value.String.
		want []string
	}{
		{"scalars", `nil true false 42 -7 +3 12N 1.5 -2e3 3.25M "s" :k :ns/k sym \a \newline`,
			[]string{"nil", "true", "false", "42", "-7", "3", "12", "1.5", "-2000", "3.25", `"s"`, ":k", ":ns/k", "sym", `\a`, "\\\n"}},
		{"collections", `[1 [2 3]] (4 5) #{6} {:a 1, :b [nil]}`,
			[]string{"[1 [2 3]]", "(4 5)", "#{6}", "{:a 1, :b [nil]}"}},
		{"commas are whitespace", `[1,2,,3]`, []string{"[1 2 3]"}},
		{"comments", "; a comment\n[1 ; inside\n 2]\n; trailing", []string{"[1 2]"}},
		{"discard", `[1 #_2 3 #_[4 5]] #_:gone :kept`, []string{"[1 3]", ":kept"}},
		{"discard at the end of a collection", `[1 #_2]`, []string{"[1]"}},
		{"string escapes", `"a\"b\\c\nd\u00e9"`, []string{`"a\"b\\c\ndé"`}},
		{"tagged literals keep their tag", `#inst "2020-01-01" #jepsen.history.Op{:f :read}`,
			[]string{`#inst "2020-01-01"`, `#jepsen.history.Op {:f :read}`}},
		{"symbolic floats", `##Inf ##-Inf`, []string{"+Inf", "-Inf"}},
		{"one op map per line", "{:type :invoke}\n{:type :ok}\n", []string{"{:type :invoke}", "{:type :ok}"}},
		{"empty input", "  \n; nothing\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := decodeAll(t, tt.text)
			require.NoError(t, err)
			got := make([]string, len(vs))
			for i, v := range vs {
				got[i] = v.String()
			}
			assert.Equal(t, len(tt.want), len(got), "values: %q", got)
			for i := range min(len(got), len(tt.want)) {
				assert.Equal(t, tt.want[i], got[i])
			}
		})
	}
}

func TestDecoderLinesAndKinds(t *testing.T) {
	vs, err := decodeAll(t, "[{:process 1\n  :value [1 2]}\n\n {:process :nemesis}]")
	require.NoError(t, err)
	require.Len(t, vs, 1)
	ops := vs[0]
	require.Equal(t, Vector, ops.Kind)
	require.Len(t, ops.Items, 2)
	assert.Equal(t, 1, ops.Items[0].Line)
	assert.Equal(t, 4, ops.Items[1].Line)
	val, ok := ops.Items[0].Get("value")
	require.True(t, ok)
	assert.Equal(t, Vector, val.Kind)
	assert.Equal(t, 2, val.Line, "a value's line is where it starts")
	p, _ := ops.Items[1].Get("process")
	assert.True(t, p.IsKeyword("nemesis"))
	_, ok = ops.Items[1].Get("missing")
	assert.False(t, ok)

	nan, err := decodeAll(t, "##NaN")
	require.NoError(t, err)
	assert.True(t, math.IsNaN(nan[0].Float))
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"unclosed vector", "[1 2\n3", "line 1: the vector opened here is never closed"},
		{"unclosed string", "\n\"abc", "line 2: the string opened here is never closed"},
		{"stray closer", "[1]\n]", "line 2: unexpected ']'"},
		{"odd map", "{:a 1 :b}", "line 1: the map opened here has a key without a value"},
		{"bad escape", `"\q"`, `unknown escape \q`},
		{"integer overflow", "99999999999999999999", "does not fit in 64 bits"},
		{"bad number", "12abc", `"12abc" is not a number`},
		{"namespaced map keyword", "::k", `"::k" is not a keyword`},
		{"tag without value", "#foo", "the file ends in the middle of a value"},
		{"hash then digit", "#1", "'#' must start a set"},
		{"unknown symbolic value", "##Big", "unknown symbolic value ##Big"},
		{"bad character", `\bogus`, `\bogus is not a character`},
		{"too deep", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), "nest deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(t, tt.text)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrSyntax), "%v", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestValueStringIsBounded(t *testing.T) {
	v := Value{Kind: Vector}
	for range 1000 {
		v.Items = append(v.Items, Value{Kind: Int, Int: 123456})
	}
	s := v.String()
	assert.LessOrEqual(t, len(s), maxStringBytes+len("…"))
	assert.True(t, strings.HasSuffix(s, "…"))
}
