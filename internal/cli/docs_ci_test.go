package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIExamplesUseRealCommands: every trel command line in the CI examples
// of docs/ci (the workflow steps and the comments) names a command and
// flags this trel has, so the examples do not rot.
func TestCIExamplesUseRealCommands(t *testing.T) {
	command := regexp.MustCompile(`^trel ([a-z][^#]*)`)
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "ci", "*.yml"))
	if len(files) < 2 {
		t.Fatalf("docs/ci holds %d examples, want the GitHub Actions workflow and the GitLab job", len(files))
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Comment lines indented as examples are commands too; a trailing
		// backslash continues one.
		text := strings.ReplaceAll(string(data), "\\\n#", " ")
		for _, raw := range strings.Split(text, "\n") {
			line := strings.TrimSpace(raw)
			if c, ok := strings.CutPrefix(line, "#"); ok {
				if !strings.HasPrefix(c, "   trel ") {
					continue
				}
				line = strings.TrimSpace(c)
			}
			line = strings.TrimPrefix(strings.TrimPrefix(line, "- "), "run: ")
			m := command.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			cmd := m[1]
			for _, sep := range []string{"&&", ";", ")"} {
				cmd, _, _ = strings.Cut(cmd, sep)
			}
			args := strings.Fields(strings.NewReplacer(`"`, "", `'`, "", `\`, "").Replace(cmd))
			var out, errb bytes.Buffer
			if code := Main(append(args, "--help"), strings.NewReader(""), &out, &errb); code != 0 {
				t.Errorf("%s: `trel %s` is not a valid command line: %s", filepath.Base(f), strings.Join(args, " "), errb.String())
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d trel command lines found in docs/ci", n)
	}
}
