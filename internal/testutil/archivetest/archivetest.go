// Package archivetest makes real release archives for tests with the
// system tar and gzip: a top-level directory named after the artifact with
// the Apache-2.0 LICENSE, a NOTICE, a source file with its header and,
// optionally, filler bytes, so that the archive and licence checks pass.
package archivetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Header is the ASF licence header in C-style comments.
const Header = `/*
 * Licensed to the Apache Software Foundation (ASF) under one
 * or more contributor license agreements.  See the NOTICE file
 * distributed with this work for additional information
 * regarding copyright ownership.  The ASF licenses this file
 * to you under the Apache License, Version 2.0 (the
 * "License"); you may not use this file except in compliance
 * with the License.
 */
`

// SourceTarGz returns a .tar.gz whose single top-level directory is stem
// (the artifact's name without .tar.gz); filler, when given, is stored as
// stem/data.bin.
func SourceTarGz(t testing.TB, stem string, filler []byte) []byte {
	t.Helper()
	return build(t, stem, filler, "tar", "-czf", "out", stem)
}

// SourceZip is SourceTarGz as a .zip made by the system zip.
func SourceZip(t testing.TB, stem string, filler []byte) []byte {
	t.Helper()
	return build(t, stem, filler, "zip", "-qr", "out", stem)
}

func build(t testing.TB, stem string, filler []byte, tool string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	top := filepath.Join(dir, stem)
	apache, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"LICENSE":                   apache,
		"NOTICE":                    []byte("Widget\nCopyright 2020-2026 The Apache Software Foundation\n"),
		"src/main/java/Widget.java": []byte(Header + "class Widget {}\n"),
	}
	if filler != nil {
		files["data.bin"] = filler
	}
	for name, data := range files {
		p := filepath.Join(top, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", tool, err, msg)
	}
	out := filepath.Join(dir, "out")
	if tool == "zip" {
		out += ".zip" // zip adds the extension
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
