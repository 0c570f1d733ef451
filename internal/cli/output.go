package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"trel/internal/domain"
)

// out prints v as JSON when --json was given, and otherwise calls human.
func (e *env) out(v any, human func()) error {
	if e.json {
		e.printedJSON = true
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	// Names in the output come from other people: bidi and format
	// controls in them are shown as escapes, so that they cannot reverse
	// or hide the rest of the line.
	saved := e.stdout
	e.stdout = safeWriter{saved}
	defer func() { e.stdout = saved }()
	human()
	return nil
}

// safeWriter writes text with every invisible format or bidi control and
// every control character but newline and tab replaced by a \uXXXX escape.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, neutralize(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// neutralize escapes invisible format and bidi controls and control
// characters (but newline and tab) in s.
func neutralize(s string) string {
	bad := func(r rune) bool {
		return domain.IsFormatChar(r) || (unicode.IsControl(r) && r != '\n' && r != '\t')
	}
	if !strings.ContainsFunc(s, bad) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if bad(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// table prints aligned columns.
func (e *env) table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return when(*t)
}

func short(hexDigest string) string {
	if len(hexDigest) > 16 {
		return hexDigest[:16]
	}
	return hexDigest
}
