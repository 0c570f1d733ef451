package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestHumanOutputNeutralizesBidi: a name holding a right-to-left override
// cannot reverse the line it is printed in (issue 12); JSON output keeps
// the data as it is (escaped by JSON itself).
func TestHumanOutputNeutralizesBidi(t *testing.T) {
	name := "evil\u202Egz.rat.exe"
	var out bytes.Buffer
	e := &env{stdout: &out}
	e.out(nil, func() { fmt.Fprintf(e.stdout, "Uploaded %s\tto\n%s\n", name, "zero\u200Bwidth\x1b[31m") })
	got := out.String()
	if strings.ContainsAny(got, "\u202E\u200B\x1b") || !strings.Contains(got, `evil\u202egz.rat.exe`) || !strings.Contains(got, `zero\u200bwidth\u001b[31m`) {
		t.Fatalf("human output: %q", got)
	}
	if !strings.Contains(got, "\tto\n") {
		t.Fatalf("tabs and newlines must stay: %q", got)
	}
	if e.stdout != &out {
		t.Fatal("the output writer was not restored")
	}
	out.Reset()
	e.json = true
	e.out(map[string]string{"path": name}, nil)
	if !strings.Contains(out.String(), `"evil\u202egz.rat.exe"`) && !strings.Contains(out.String(), name) {
		t.Fatalf("json: %q", out.String())
	}
	if got := neutralize("café 日本語"); got != "café 日本語" {
		t.Fatalf("visible text changed: %q", got)
	}
}
