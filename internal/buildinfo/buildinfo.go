// Package buildinfo tells which trel this is: the module version and the
// version-control revision the binary was built from, as the Go toolchain
// recorded them (runtime/debug.ReadBuildInfo).
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Info is what `trel --version` and /healthz report.
type Info struct {
	Version   string `json:"version"`            // module version, or "(devel)"
	Revision  string `json:"revision,omitempty"` // VCS revision, when built from a checkout
	Time      string `json:"time,omitempty"`     // the revision's commit time
	Modified  bool   `json:"modified,omitempty"` // the checkout had local changes
	GoVersion string `json:"go"`
}

var (
	once sync.Once
	info Info
)

// Get returns the build's information (read once).
func Get() Info {
	once.Do(func() {
		info = Info{Version: "(unknown)"}
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		info.Version, info.GoVersion = bi.Main.Version, bi.GoVersion
		if info.Version == "" {
			info.Version = "(devel)"
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	})
	return info
}

// String is the one-line form: "trel VERSION (REVISION[+modified], GO)".
func (i Info) String() string {
	s := "trel " + i.Version
	rev := i.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && i.Modified {
		rev += "+modified"
	}
	switch {
	case rev != "" && i.GoVersion != "":
		s += " (" + rev + ", " + i.GoVersion + ")"
	case i.GoVersion != "":
		s += " (" + i.GoVersion + ")"
	}
	return s
}
