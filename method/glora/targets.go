package glora

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/glora/glora/nn"
)

// AllLinear is the target that selects every Linear of the model except
// the classification head (PEFT's "all-linear").
const AllLinear = "all-linear"

// SelectTargets picks the sites GLoRA wraps, with PEFT's target_modules
// semantics. Each entry of modules is
//
//   - "all-linear": every Linear except the head;
//   - a regular expression (an entry holding any of ^$*+?()[]{}|\), matched
//     against the whole module path;
//   - otherwise a module path matched exactly or as a suffix at a dot
//     boundary ("attn.qkv" matches "blocks.3.attn.qkv").
//
// exclude uses the same rules (except all-linear) and removes sites. An
// entry of either list that matches nothing is an error naming it, as is
// an empty selection. The head is selected only when named explicitly.
// The result keeps the model's order.
func SelectTargets(sites []nn.LinearSite, modules, exclude []string) ([]nn.LinearSite, error) {
	if len(modules) == 0 {
		return nil, fmt.Errorf("glora: no target modules (want module paths, suffixes, a regular expression or %s)", AllLinear)
	}
	sel := make([]bool, len(sites))
	for _, m := range modules {
		hit := false
		for i, s := range sites {
			ok, err := matchTarget(m, s)
			if err != nil {
				return nil, err
			}
			if ok {
				sel[i], hit = true, true
			}
		}
		if !hit {
			return nil, fmt.Errorf("glora: target %q matches no Linear layer (the model has %s)", m, sitesSummary(sites))
		}
	}
	for _, x := range exclude {
		if x == AllLinear {
			return nil, fmt.Errorf("glora: %s cannot be excluded", AllLinear)
		}
		hit := false
		for i, s := range sites {
			ok, err := matchTarget(x, s)
			if err != nil {
				return nil, err
			}
			if ok {
				hit = true
				sel[i] = false
			}
		}
		if !hit {
			return nil, fmt.Errorf("glora: exclusion %q matches no Linear layer (the model has %s)", x, sitesSummary(sites))
		}
	}
	var out []nn.LinearSite
	for i, s := range sites {
		if sel[i] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("glora: targets %v minus exclusions %v select no layer", modules, exclude)
	}
	return out, nil
}

func matchTarget(pattern string, s nn.LinearSite) (bool, error) {
	if pattern == AllLinear {
		return !s.Head, nil
	}
	if strings.ContainsAny(pattern, `^$*+?()[]{}|\`) {
		re, err := regexp.Compile(`^(?:` + pattern + `)$`)
		if err != nil {
			return false, fmt.Errorf("glora: target %q: %w", pattern, err)
		}
		return re.MatchString(s.Path), nil
	}
	return s.Path == pattern || strings.HasSuffix(s.Path, "."+pattern), nil
}

// sitesSummary names a few of the model's Linear layers for error messages.
func sitesSummary(sites []nn.LinearSite) string {
	var names []string
	for i, s := range sites {
		if i == 6 {
			names = append(names, fmt.Sprintf("… %d in all", len(sites)))
			break
		}
		names = append(names, s.Path)
	}
	return strings.Join(names, ", ")
}

// TargetsOf describes sites as Targets (paths and widths).
func TargetsOf(sites []nn.LinearSite) []Target {
	out := make([]Target, len(sites))
	for i, s := range sites {
		out[i] = Target{Path: s.Path, In: s.In(), Out: s.Out(), HasBias: s.HasBias()}
	}
	return out
}
