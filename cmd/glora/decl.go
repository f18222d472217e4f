package main

// Declarative flags: a command's settings are one struct, and each field
// tagged `flag:"NAME"` is a flag whose default is the field's value when
// bound, whose help is the `help:"…"` tag (a {name} in it is replaced by a
// shared text, see helpTexts) and whose key in the run's settings file is
// the field's json tag. Registration, --help, the settings file and the
// resume comparison (mergeSaved) come from that one definition.

import (
	"encoding/json"
	"flag"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/glora/glora/pipeline"
)

// helpTexts are the help texts several commands share, named in help tags
// as {name}.
var helpTexts = map[string]string{
	"model":        modelHelp,
	"lm-model":     lmModelHelp,
	"text-data":    textDataHelp,
	"precision":    precisionHelp,
	"scheme":       pipelineSchemeHelp,
	"method":       methodHelp,
	"recipe":       recipeHelp,
	"recipes":      strings.Join(pipeline.Names, ", "),
	"resize":       resizeHelp,
	"split-scheme": schemeHelp,
	"full-demo":    fullDemoHelp(),
}

// bindFlags registers a flag for every field of the struct v points to
// (and of the structs it embeds) tagged `flag:"NAME"`, and returns each
// flag's settings key (the field's json tag): the keys mergeSaved compares
// on --resume. Fields may be string, bool, int, uint64, float64, []int or
// []string (the lists comma-separated).
func bindFlags(fs *flag.FlagSet, v any) map[string]string {
	keys := map[string]string{}
	eachField(v, func(f reflect.StructField, fv reflect.Value) {
		name, ok := f.Tag.Lookup("flag")
		if !ok {
			return
		}
		help := f.Tag.Get("help")
		for k, t := range helpTexts {
			help = strings.ReplaceAll(help, "{"+k+"}", t)
		}
		switch p := fv.Addr().Interface().(type) {
		case *string:
			fs.StringVar(p, name, *p, help)
		case *bool:
			fs.BoolVar(p, name, *p, help)
		case *int:
			fs.IntVar(p, name, *p, help)
		case *uint64:
			fs.Uint64Var(p, name, *p, help)
		case *float64:
			fs.Float64Var(p, name, *p, help)
		case *[]string:
			fs.Var((*listFlag)(p), name, help)
		case *[]int:
			fs.Var(&intsFlag{p: p, name: name}, name, help)
		default:
			panic(fmt.Sprintf("bindFlags: field %s of type %s", f.Name, f.Type))
		}
		if key, _, _ := strings.Cut(f.Tag.Get("json"), ","); key != "" && key != "-" {
			keys[name] = key
		}
	})
	return keys
}

// eachField calls fn on every field of the struct v points to, and of
// the structs it embeds (not on the embedded structs themselves).
func eachField(v any, fn func(f reflect.StructField, fv reflect.Value)) {
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		rt := rv.Type()
		for i := range rt.NumField() {
			f, fv := rt.Field(i), rv.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(fv)
				continue
			}
			fn(f, fv)
		}
	}
	walk(reflect.ValueOf(v).Elem())
}

// withGiven is base with the settings of the flags given on the command
// line (explicit) taken from given: keys maps each flag to its settings key.
func withGiven[T any](base, given T, explicit map[string]bool, keys map[string]string) T {
	bm, gm := toMap(base), toMap(given)
	for f := range explicit {
		if k, ok := keys[f]; ok {
			bm[k] = gm[k]
		}
	}
	b, err := json.Marshal(bm)
	if err != nil {
		panic(err) // a map of what json.Marshal gave
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// listFlag is a comma-separated list of names (empty items dropped).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = splitList(s)
	return nil
}

// intsFlag is a comma-separated list of lora ranks (parseInts' rules).
type intsFlag struct {
	p    *[]int
	name string
}

func (f *intsFlag) String() string {
	if f.p == nil {
		return ""
	}
	parts := make([]string, len(*f.p))
	for i, n := range *f.p {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (f *intsFlag) Set(s string) error {
	v, err := parseInts(f.name, s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

// flagKeys maps each flag of fs that was registered on a field of the
// struct v points to (fs.StringVar(&v.Data, …) and the like: the flag's
// value is that field's address) to the field's json key.
func flagKeys(fs *flag.FlagSet, v any) map[string]string {
	fields := map[uintptr]string{}
	eachField(v, func(f reflect.StructField, fv reflect.Value) {
		if key, _, _ := strings.Cut(f.Tag.Get("json"), ","); key != "" && key != "-" {
			fields[fv.Addr().Pointer()] = key
		}
	})
	keys := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if rv := reflect.ValueOf(f.Value); rv.Kind() == reflect.Pointer {
			if k, ok := fields[rv.Pointer()]; ok {
				keys[f.Name] = k
			}
		}
	})
	return keys
}
