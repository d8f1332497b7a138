package packaging

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	releaseRE  = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(?:-(.+))?$`)
	debExtraRE = regexp.MustCompile(`[^A-Za-z0-9.+~]+`)
	describeRE = regexp.MustCompile(`^[0-9]+-g[0-9a-f]+`)
	hashRE     = regexp.MustCompile(`^[0-9a-f]{7,40}(-dirty)?$`)
	startRE    = regexp.MustCompile(`^[A-Za-z0-9]`)
)

// DebVersion turns a build version (git describe --tags --always --dirty,
// as make sets it) into a Debian version that sorts the same way:
//
//	v1.4.0                 → 1.4.0
//	v1.4.0-rc.1            → 1.4.0~rc.1           (before 1.4.0)
//	v1.4.0-3-gabc1234      → 1.4.0+3.gabc1234     (after 1.4.0)
//	v1.4.0-3-gabc1234-dirty→ 1.4.0+3.gabc1234.dirty
//	abc1234, abc1234-dirty → 0.0.0+gitabc1234, 0.0.0+gitabc1234.dirty (no tag yet)
//	dev                    → 0.0.0+dev
func DebVersion(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("version is empty")
	}
	if m := releaseRE.FindStringSubmatch(v); m != nil {
		base, rest := m[1], m[2]
		switch {
		case rest == "":
			return base, nil
		case describeRE.MatchString(rest):
			// commits after the tag: sorts after the release
			return base + "+" + clean(rest), nil
		default:
			// a pre-release tag (rc, beta): sorts before the release
			return base + "~" + clean(rest), nil
		}
	}
	if !startRE.MatchString(v) {
		return "", fmt.Errorf("version %q: want a tag like v1.2.3 or a commit hash", v)
	}
	prefix := ""
	if hashRE.MatchString(v) {
		prefix = "git"
	}
	return "0.0.0+" + prefix + clean(v), nil
}

// clean makes s a valid part of a Debian upstream version.
func clean(s string) string {
	return strings.Trim(debExtraRE.ReplaceAllString(strings.ReplaceAll(s, "-", "."), "."), ".")
}
