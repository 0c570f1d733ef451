package domain

import "testing"

// TestTallySaysWhatIsMissing: a vote that does not pass says how many
// binding +1 it lacks, counting both the threshold and the -1 votes.
func TestTallySaysWhatIsMissing(t *testing.T) {
	vote := func(value int, binding bool) Vote { return Vote{Value: value, Binding: binding} }
	for _, tc := range []struct {
		name  string
		min   int
		votes []Vote
		want  string
	}{
		{"no vote yet", 3, nil, "needs 3 more binding +1s"},
		{"one short", 3, []Vote{vote(1, true), vote(1, true), vote(1, false)}, "needs 1 more binding +1"},
		{"passes", 1, []Vote{vote(1, true)}, ""},
		{"outweighed by -1", 1, []Vote{vote(1, true), vote(-1, true), vote(-1, true)}, "needs 2 more binding +1s (binding +1 must outnumber the 2 binding −1)"},
		{"a tie is not a pass", 1, []Vote{vote(1, true), vote(-1, true)}, "needs 1 more binding +1 (binding +1 must outnumber the 1 binding −1)"},
		{"non-binding votes do not count", 2, []Vote{vote(1, true), vote(1, false), vote(1, false)}, "needs 1 more binding +1"},
		{"zero votes do not count", 1, []Vote{vote(0, true)}, "needs 1 more binding +1"},
	} {
		tl := Tally{Votes: tc.votes}
		tl.Count(tc.min)
		if tl.Missing != tc.want || tl.Passing != (tc.want == "") {
			t.Errorf("%s: missing %q passing %v, want %q", tc.name, tl.Missing, tl.Passing, tc.want)
		}
	}
}
