package glora

import (
	"fmt"
	"sort"
	"strings"
)

// Named structures (docs/DESIGN.md §5): known methods as GLoRA structures, so
// every baseline runs through the same layer.
//
//	lora         B = lora_r, all others none
//	bitfit       E = vector (bias tuning), all others none
//	ia3          A = vector, D = vector (IA³-like output scaling, untied)
//	ssf          A = vector, D = vector, E = vector (SSF-like scale and shift)
//	glora-fixed  A = B = C = lora_r, D = E = constant (PEFT's default GLoRA)
//
// On a bias-less layer C, D and E become none unless addBias.
var namedLayers = map[string]func(r int) LayerChoice{
	"lora": func(r int) LayerChoice { return LayerChoice{B: LoRAChoice(r)} },
	"bitfit": func(int) LayerChoice {
		return LayerChoice{E: ChoiceVector}
	},
	"ia3": func(int) LayerChoice { return LayerChoice{A: ChoiceVector, D: ChoiceVector} },
	"ssf": func(int) LayerChoice {
		return LayerChoice{A: ChoiceVector, D: ChoiceVector, E: ChoiceVector}
	},
	"glora-fixed": func(r int) LayerChoice {
		return LayerChoice{A: LoRAChoice(r), B: LoRAChoice(r), C: LoRAChoice(r), D: ChoiceConstant, E: ChoiceConstant}
	},
}

// NamedStructures lists the names Named accepts.
func NamedStructures() []string {
	names := make([]string, 0, len(namedLayers))
	for n := range namedLayers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Named returns the named structure over targets with lora rank r (used by
// lora and glora-fixed only).
func Named(name string, targets []Target, r int, addBias bool) (Structure, error) {
	f, ok := namedLayers[name]
	if !ok {
		return nil, fmt.Errorf("glora: unknown structure %q (want %s)", name, strings.Join(NamedStructures(), ", "))
	}
	if r < 1 {
		return nil, fmt.Errorf("glora: structure %s: rank %d must be ≥ 1", name, r)
	}
	return Uniform(targets, f(r), addBias), nil
}
