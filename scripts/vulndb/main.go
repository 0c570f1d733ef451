//go:build ignore

// Command vulndb builds a govulncheck file database from the source of the
// golang.org/x/vulndb module (its data/osv/*.json), so that govulncheck runs
// without reaching vuln.go.dev:
//
//	go run scripts/vulndb/main.go SRC_DIR OUT_DIR
//	govulncheck -db file://OUT_DIR ./...
//
// The layout is the one govulncheck reads: OUT/ID/<id>.json,
// OUT/index/db.json and OUT/index/modules.json.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

type osv struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

type vuln struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
}

type module struct {
	Path  string `json:"path"`
	Vulns []vuln `json:"vulns"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/vulndb/main.go VULNDB_MODULE_DIR OUT_DIR")
		os.Exit(2)
	}
	if err := build(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
}

func build(src, out string) error {
	files, err := filepath.Glob(filepath.Join(src, "data", "osv", "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no OSV entries under %s/data/osv", src)
	}
	for _, d := range []string{"ID", "index"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	byModule := map[string][]vuln{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var e osv
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), data, 0o644); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			if name := a.Package.Name; name != "" && !seen[name] {
				seen[name] = true
				byModule[name] = append(byModule[name], vuln{ID: e.ID, Modified: e.Modified})
			}
		}
	}
	mods := make([]module, 0, len(byModule))
	for p, vs := range byModule {
		mods = append(mods, module{Path: p, Vulns: vs})
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	if err := writeJSON(filepath.Join(out, "index", "modules.json"), mods); err != nil {
		return err
	}
	return writeJSON(filepath.Join(out, "index", "db.json"), map[string]string{"modified": time.Now().UTC().Format(time.RFC3339)})
}

func writeJSON(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}
