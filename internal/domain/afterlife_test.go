package domain

import "testing"

// TestVersionLess: versions order as versions: numbers as numbers,
// pre-releases before their release, longer after shorter.
func TestVersionLess(t *testing.T) {
	for _, pair := range [][2]string{
		{"2.4.9", "2.4.10"}, {"2.3.5", "2.4.0"}, {"3.0.0-rc1", "3.0.0"}, {"3.0.0-rc2", "3.0.0-rc10"}, {"1.0-M1", "1.0"},
		{"1.0-SNAPSHOT", "1.0"}, {"2.4", "2.4.1"}, {"1.0", "1.0+build.1"}, {"1.0.0-alpha", "1.0.0-beta"}, {"9", "10"},
		{"1.0-rc1", "1.0.1"}, {"1.0.a", "1.0.1"}, {"01.2", "1.10"}, {"1.0-RC1", "1.0-rc2"},
	} {
		if !VersionLess(pair[0], pair[1]) || VersionLess(pair[1], pair[0]) {
			t.Errorf("%s < %s does not hold (or holds both ways)", pair[0], pair[1])
		}
	}
	for _, v := range []string{"1.0", "3.0.0-rc1", "2.4.10+x"} {
		if VersionLess(v, v) {
			t.Errorf("%s < %s", v, v)
		}
	}
}
