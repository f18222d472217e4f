package nn

import (
	"fmt"
	"strings"
)

// MatchName reports whether the dotted parameter name matches pattern.
// Both are split at dots into segments; pattern segments are
//
//	literal  matches that exact segment
//	*        matches any one segment
//	**       matches zero or more whole segments, wherever it stands
//
// and a pattern that matches a whole-segment prefix of name matches the
// whole sub-tree under it: "blocks.0" matches "blocks.0.attn.qkv.weight",
// "blocks.*" every parameter under blocks. So "**.bias" matches every bias
// ("head.bias", "blocks.3.norm1.bias", but not "blocks.3.norm1.weight"),
// "blocks.**.weight" every weight under blocks (and "blocks.weight"), "**"
// everything. Segments are compared whole: "block" does not match "blocks.0",
// and '*' inside a segment ("norm*") is a literal character.
func MatchName(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "."), strings.Split(name, "."))
}

// matchSegs matches pattern segments ps against name segments ns, allowing
// unconsumed name segments at the end (the sub-tree rule). A pattern has a
// handful of segments, so the backtracking over '**' is cheap.
func matchSegs(ps, ns []string) bool {
	for len(ps) > 0 {
		p := ps[0]
		if p == "**" {
			for len(ps) > 1 && ps[1] == "**" { // "**.**" is "**"
				ps = ps[1:]
			}
			for k := 0; k <= len(ns); k++ {
				if matchSegs(ps[1:], ns[k:]) {
					return true
				}
			}
			return false
		}
		if len(ns) == 0 || (p != "*" && p != ns[0]) {
			return false
		}
		ps, ns = ps[1:], ns[1:]
	}
	return true
}

// ValidatePattern reports a pattern MatchName can never match as meant: an
// empty pattern or an empty segment ("blocks..weight", ".bias").
func ValidatePattern(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("nn: empty name pattern")
	}
	for _, seg := range strings.Split(pattern, ".") {
		if seg == "" {
			return fmt.Errorf("nn: name pattern %q has an empty segment", pattern)
		}
	}
	return nil
}
