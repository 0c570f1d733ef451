package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// allCommands lists every command of the tree, the root included.
func allCommands() []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		out = append(out, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot(&env{}))
	return out
}

// TestEveryCommandHasExamples walks the whole command tree: every command
// has 1 to 3 examples, each running trel commands and flags that exist;
// every flag's placeholder in the help is one word; and `--help` of every
// command works and shows its examples.
func TestEveryCommandHasExamples(t *testing.T) {
	root := newRoot(&env{})
	for _, c := range allCommands() {
		path := c.CommandPath()
		// A command continued with a backslash is one example.
		lines := strings.Split(strings.ReplaceAll(strings.TrimRight(c.Example, "\n"), "\\\n", ""), "\n")
		if strings.TrimSpace(c.Example) == "" || len(lines) > 3 {
			t.Errorf("%s: %d example lines, want 1 to 3 (add them to examples.go)", path, len(lines))
			continue
		}
		for _, line := range lines {
			if !strings.HasPrefix(line, "  ") || !strings.Contains(line, "trel ") {
				t.Errorf("%s: example %q is not an indented trel command", path, line)
				continue
			}
			checkExample(t, root, path, line)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if p := placeholder(f); strings.ContainsAny(p, " /") {
				t.Errorf("%s --%s: placeholder %q", path, f.Name, p)
			}
		})
		var out, errb bytes.Buffer
		args := append(strings.Fields(strings.TrimPrefix(path, "trel")), "--help")
		if code := Main(args, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("trel %s: exit %d, examples shown %v (%s)", strings.Join(args, " "), code, strings.Contains(out.String(), "Examples:"), errb.String())
		}
		if strings.Contains(out.String(), "[=true|false]") || strings.Contains(out.String(), "--master-key-file trel") {
			t.Errorf("trel %s: the flags are shown badly:\n%s", strings.Join(args, " "), out.String())
		}
	}
}

// checkExample checks that every trel command of an example line names an
// existing command and only flags it has.
func checkExample(t *testing.T, root *cobra.Command, path, line string) {
	t.Helper()
	for _, seg := range strings.FieldsFunc(line, func(r rune) bool { return r == '|' || r == ';' || r == '&' || r == '>' || r == '<' }) {
		words := strings.Fields(seg)
		if len(words) == 0 || words[0] != "trel" {
			continue
		}
		c, rest, err := root.Find(words[1:])
		if err != nil || c == root && len(words) > 1 {
			t.Errorf("%s: example %q runs an unknown command", path, seg)
			continue
		}
		for _, w := range rest {
			if !strings.HasPrefix(w, "--") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			if c.Flags().Lookup(name) == nil && c.InheritedFlags().Lookup(name) == nil {
				t.Errorf("%s: example %q uses --%s, which %s does not have", path, seg, name, c.CommandPath())
			}
		}
	}
}
