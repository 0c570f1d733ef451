package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// useOwnFlagHelp makes every command list its flags with flagHelp: a
// boolean flag shows no value, and a flag's placeholder is the word its
// usage marks with backquotes only when that is one word (pflag would
// otherwise print a whole quoted command as the placeholder).
func useOwnFlagHelp(root *cobra.Command) {
	cobra.AddTemplateFunc("flagHelp", flagHelp)
	t := root.UsageTemplate()
	t = strings.ReplaceAll(t, ".LocalFlags.FlagUsages", "flagHelp .LocalFlags")
	t = strings.ReplaceAll(t, ".InheritedFlags.FlagUsages", "flagHelp .InheritedFlags")
	root.SetUsageTemplate(t)
}

// placeholder is the value name of a flag in the help, "" for booleans.
func placeholder(f *pflag.Flag) string {
	if f.Value.Type() == "bool" {
		return ""
	}
	name, _ := pflag.UnquoteUsage(f)
	if name == "" || strings.ContainsAny(name, " /") {
		name = f.Value.Type()
	}
	switch name {
	case "string", "stringArray", "stringSlice":
		return namePlaceholder(f.Name)
	case "int", "int64", "uint":
		return "N"
	case "duration":
		return "DURATION"
	}
	return name
}

// flagHelp lists a command's flags, aligned, with their defaults.
func flagHelp(fs *pflag.FlagSet) string {
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		if p := placeholder(f); p != "" {
			left += " " + p
		}
		_, usage := pflag.UnquoteUsage(f)
		if name, _ := pflag.UnquoteUsage(f); strings.ContainsAny(name, " /") {
			usage = f.Usage // keep the quoted command as written
			usage = strings.ReplaceAll(usage, "`", "")
		}
		switch d := f.DefValue; {
		case d == "", d == "false", d == "0", d == "[]", f.Value.Type() == "bool":
		case f.Value.Type() == "string":
			usage += fmt.Sprintf(" (default %q)", d)
		default:
			usage += " (default " + d + ")"
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s   %s\n", width, r.left, r.usage)
	}
	return b.String()
}

// namePlaceholder guesses a text flag's value name from its name.
func namePlaceholder(flag string) string {
	switch {
	case strings.HasSuffix(flag, "-file"), strings.HasSuffix(flag, "-root"), strings.HasSuffix(flag, "-config"),
		flag == "out", flag == "key", flag == "keys", flag == "bundle", flag == "signature", flag == "checksum", flag == "old", flag == "new":
		return "FILE"
	case flag == "data", strings.HasSuffix(flag, "-dir"), strings.HasSuffix(flag, "-data"), flag == "to":
		return "DIR"
	case strings.HasSuffix(flag, "url"), flag == "server", flag == "database", flag == "blobs", flag == "issuer", strings.HasSuffix(flag, "-issuer"):
		return "URL"
	case strings.HasSuffix(flag, "addr"):
		return "HOST:PORT"
	case flag == "committee":
		return "COMMITTEE"
	case flag == "username", flag == "actor", flag == "user":
		return "USER"
	case flag == "reason", flag == "comment", flag == "label", flag == "name", flag == "message":
		return "TEXT"
	case strings.HasSuffix(flag, "regexp"):
		return "REGEXP"
	case strings.HasSuffix(flag, "-size"), strings.HasSuffix(flag, "-quota"), flag == "resumable-over":
		return "SIZE"
	}
	return "VALUE"
}
