// Package buildinfo tells which runner this is: the version stamped at link
// time (make build sets it from git describe), else what the Go toolchain
// recorded about the module and its VCS state.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set with -ldflags "-X github.com/vigil-risk/vigil/runner/buildinfo.version=v1.2.3".
var version string

// Info describes the running binary.
type Info struct {
	Version    string `json:"runner_version"`
	Commit     string `json:"commit,omitempty"`
	GoVersion  string `json:"go_version"`
	OPAVersion string `json:"opa_version"`
}

// Read gathers the build facts once; it is cheap enough to call at start.
func Read() Info {
	info := Info{Version: version, GoVersion: runtime.Version(), OPAVersion: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if info.Version == "" {
			info.Version = "dev"
		}
		return info
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	for _, dep := range bi.Deps {
		if dep.Path == "github.com/open-policy-agent/opa" {
			info.OPAVersion = strings.TrimPrefix(dep.Version, "v")
		}
	}
	if info.Version == "" {
		switch {
		case bi.Main.Version != "" && bi.Main.Version != "(devel)":
			info.Version = bi.Main.Version
		case info.Commit != "":
			info.Version = "dev-" + info.Commit[:min(12, len(info.Commit))]
			if dirty {
				info.Version += "-dirty"
			}
		default:
			info.Version = "dev"
		}
	}
	return info
}
