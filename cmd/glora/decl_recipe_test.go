package main

import (
	"flag"
	"reflect"
	"strings"
	"testing"

	"github.com/glora/glora/pipeline"
)

// Every recipe-tagged flag of run and the demo takes its default from the
// recipe, and setting it changes the recipe at its path and nowhere else:
// a tag naming a path the recipe lacks would change nothing and fail here.
func TestRecipeFlagsSetTheirPath(t *testing.T) {
	for _, v := range []any{&runRecipe{}, &demoFlags{}} {
		for _, name := range pipeline.Names {
			r := pipeline.MustNamed(name)
			recipeDefaults(v, r)
			if got := applyRecipe(v, r, nil); !reflect.DeepEqual(got, r) {
				t.Fatalf("%T: recipe %s changed by no flag:\n%+v\n%+v", v, name, got, r)
			}
			eachField(v, func(f reflect.StructField, fv reflect.Value) {
				flagName := f.Tag.Get("flag")
				if _, _, ok := recipePath(f); !ok {
					return
				}
				// The default read back: applying the flag at its default is no change.
				if got := applyRecipe(v, r, map[string]bool{flagName: true}); !reflect.DeepEqual(got, r) {
					t.Errorf("%T --%s at its default changes recipe %s", v, flagName, name)
				}
				old := reflect.New(fv.Type()).Elem()
				old.Set(fv)
				switch fv.Kind() {
				case reflect.Int:
					fv.SetInt(fv.Int() + 3)
				case reflect.Float64:
					fv.SetFloat(fv.Float() + 0.25)
				case reflect.Bool:
					fv.SetBool(!fv.Bool())
				case reflect.Slice:
					fv.Set(reflect.ValueOf([]int{2, 16}))
				}
				got := applyRecipe(v, r, map[string]bool{flagName: true})
				if reflect.DeepEqual(got, r) {
					t.Errorf("%T --%s changes nothing in recipe %s: its recipe tag names no path there", v, flagName, name)
				}
				// Read back through the tags, only this field moved.
				back := reflect.New(reflect.TypeOf(v).Elem())
				recipeDefaults(back.Interface(), got)
				if bv := back.Elem().FieldByName(f.Name); !reflect.DeepEqual(bv.Interface(), fv.Interface()) {
					t.Errorf("%T --%s: set %v, read back %v", v, flagName, fv.Interface(), bv.Interface())
				}
				fv.Set(old)
			})
		}
	}
}

// The demo has an --epochs-NAME and an --lr-NAME flag for each of its
// runs, and --fresh-retrain is the negation of the recipe's inherit.
func TestDemoRecipeFlags(t *testing.T) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	f := registerDemoFlags(fs, defaultDemo())
	for _, name := range demoRuns {
		for _, fl := range []string{"epochs-" + name, "lr-" + name} {
			if fs.Lookup(fl) == nil {
				t.Errorf("demo has no --%s", fl)
			}
		}
	}
	if err := fs.Parse([]string{"--fresh-retrain", "--epochs-supernet", "3", "--lr-linear", "0.5", "--batch", "16"}); err != nil {
		t.Fatal(err)
	}
	o, err := f.options(defaultDemo(), explicitFlags(fs))
	if err != nil {
		t.Fatal(err)
	}
	d := pipeline.MustNamed(pipeline.Default)
	if o.Search.Inherit || o.Runs[pipeline.SupernetRun].Epochs != 3 || o.Runs["linear"].LR != 0.5 || o.Batch != 16 ||
		o.Runs[pipeline.SupernetRun].LR != d.Runs[pipeline.SupernetRun].LR || o.Search.Population != d.Search.Population {
		t.Errorf("options %+v", o.Recipe)
	}
}

// A resumed run refuses a recipe flag that differs from the saved recipe
// and accepts one that repeats it.
func TestSameRecipeFlags(t *testing.T) {
	saved := pipeline.MustNamed(pipeline.Default)
	rf := runRecipe{}
	recipeDefaults(&rf, saved)
	rf.Population = saved.Search.Population
	if err := sameRecipeFlags(&rf, saved, map[string]bool{"population": true, "seed": true}, "OUT"); err != nil {
		t.Errorf("same --population: %v", err)
	}
	rf.Population++
	err := sameRecipeFlags(&rf, saved, map[string]bool{"population": true}, "OUT")
	if err == nil || !strings.Contains(err.Error(), "--population differs from the saved run's") {
		t.Errorf("other --population: %v", err)
	}
}
