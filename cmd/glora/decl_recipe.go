package main

// Recipe overrides, declared: a field tagged `recipe:"PATH"` (besides its
// flag and help tags) sets the value at PATH in the named recipe when its
// flag is given. PATH is the recipe's JSON path, as run.settings.json
// shows it ("search.population", "runs.supernet.epochs"); a leading "!"
// stores the negation of a bool ("!search.inherit" for --fresh-retrain).
// The flag's default is the value at PATH in the recipe the struct was
// filled from (recipeDefaults), so a recipe change shows in --help.

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/glora/glora/pipeline"
)

// searchOverrides are the flags that set searched GLoRA's search and
// finalists in a recipe (run's and the demo's).
type searchOverrides struct {
	Population   int     `flag:"population" recipe:"search.population" help:"search population"`
	TopK         int     `flag:"topk" recipe:"search.topk" help:"search parents kept"`
	Generations  int     `flag:"generations" recipe:"search.generations" help:"search generations"`
	Mutations    int     `flag:"mutations" recipe:"search.mutations" help:"search mutations per generation"`
	Crossovers   int     `flag:"crossovers" recipe:"search.crossovers" help:"search crossovers per generation"`
	Finalists    int     `flag:"finalists" recipe:"search.finalists" help:"the search's best structures retrained alone by successive halving on validation (1: the best alone)"`
	LoRAFinalist bool    `flag:"lora-finalist" recipe:"search.lora_finalist" help:"LoRA joins the finalists when the search did not rank it among them"`
	FreshRetrain bool    `flag:"fresh-retrain" recipe:"!search.inherit" help:"retrain the finalists from fresh support tensors instead of the supernet's weights"`
	AnchorLoRA   float64 `flag:"anchor-lora" recipe:"search.anchor_lora" help:"fraction of the supernet's steps that train LoRA at the largest rank on every layer instead of a uniform draw, so the search scores LoRA as it trains"`
}

// recipePath is a field's recipe tag split: the JSON path and whether the
// field holds the negation of the value there.
func recipePath(f reflect.StructField) (path []string, negate, ok bool) {
	tag, ok := f.Tag.Lookup("recipe")
	if !ok {
		return nil, false, false
	}
	tag, negate = strings.CutPrefix(tag, "!")
	return strings.Split(tag, "."), negate, true
}

// recipeDefaults sets every recipe-tagged field of the struct v points to
// from r: the flags' defaults, before bindFlags registers them.
func recipeDefaults(v any, r pipeline.Recipe) {
	m := toMap(r)
	eachField(v, func(f reflect.StructField, fv reflect.Value) {
		path, negate, ok := recipePath(f)
		if !ok {
			return
		}
		leaf := m[path[0]]
		for _, k := range path[1:] {
			sub, _ := leaf.(map[string]any)
			leaf = sub[k] // nil (the zero value) where the recipe omits it
		}
		fv.SetZero()
		if leaf != nil {
			b, _ := json.Marshal(leaf)
			if err := json.Unmarshal(b, fv.Addr().Interface()); err != nil {
				panic(fmt.Sprintf("recipeDefaults: %s at %s: %v", f.Name, strings.Join(path, "."), err))
			}
		}
		if negate {
			fv.SetBool(!fv.Bool())
		}
	})
}

// applyRecipe is r with the value of every recipe-tagged field of the
// struct v points to whose flag was given (explicit) written at its path.
func applyRecipe(v any, r pipeline.Recipe, explicit map[string]bool) pipeline.Recipe {
	m := toMap(r)
	eachField(v, func(f reflect.StructField, fv reflect.Value) {
		path, negate, ok := recipePath(f)
		if !ok || !explicit[f.Tag.Get("flag")] {
			return
		}
		val := fv.Interface()
		if negate {
			val = !fv.Bool()
		}
		at := m
		for _, k := range path[:len(path)-1] {
			sub, ok := at[k].(map[string]any)
			if !ok {
				sub = map[string]any{}
				at[k] = sub
			}
			at = sub
		}
		at[path[len(path)-1]] = val
	})
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a map of what json.Marshal gave, and flag values
	}
	var out pipeline.Recipe
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("applyRecipe: %v", err)) // a recipe tag names a path of the wrong type: a test catches it
	}
	return out
}

// sameRecipeFlags checks that every recipe flag given again on a resume
// (explicit) leaves the saved recipe as it was (applyRecipe passes over the
// other flags, which then change nothing).
func sameRecipeFlags(v any, saved pipeline.Recipe, explicit map[string]bool, out string) error {
	plain := applyRecipe(v, saved, nil)
	for _, f := range slices.Sorted(maps.Keys(explicit)) {
		if !reflect.DeepEqual(applyRecipe(v, saved, map[string]bool{f: true}), plain) {
			return fmt.Errorf("--resume: cannot continue the run in %s: --%s differs from the saved run's; leave it out to use the saved value", out, f)
		}
	}
	return nil
}
