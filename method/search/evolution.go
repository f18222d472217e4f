// Package search finds a GLoRA structure by evolutionary search (docs/DESIGN.md
// §3): a population of structures under a parameter budget, scored by a
// caller-supplied evaluator (on a validation split, never the test split),
// improved by mutation and crossover of the best.
//
// Every candidate is evaluated once: scores are cached by structure, and
// each evaluation is reported through Config.Record so a caller can log it
// (e.g. as a JSON line). Resuming is replaying: Run given the records of an
// interrupted run (Config.Known) makes the same draws, finds every known
// candidate in the cache instead of evaluating it again, and ends with the
// same result as an uninterrupted run.
package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/glora/glora/method/glora"
)

// Config holds the search's settings (reference defaults in Defaults).
type Config struct {
	Population   int     `json:"population"`    // structures per generation
	TopK         int     `json:"topk"`          // parents kept
	Generations  int     `json:"generations"`   // rounds
	Mutations    int     `json:"mutations"`     // children by mutation per generation
	Crossovers   int     `json:"crossovers"`    // children by crossover per generation
	MutationProb float64 `json:"mutation_prob"` // chance each layer's each tensor is redrawn
	Budget       int     `json:"budget"`        // most support parameters a structure may read
	MinParams    int     `json:"min_params"`    // fewest support parameters a structure may read (0: no bound)
	Seed         uint64  `json:"seed"`
	// Initial structures join the first generation before the random ones
	// (e.g. the named structures that fit the budget, so that the search
	// starts no worse than them); those outside the budget bounds or the
	// space are left out.
	Initial []glora.Structure `json:"-"`
	// Known holds candidates evaluated before (a resumed run's records),
	// looked up by structure key instead of evaluated again.
	Known []Candidate `json:"-"`
	// Record, when set, is called once for each newly evaluated candidate.
	Record func(Candidate) error `json:"-"`
}

// Defaults are the reference code's settings.
func Defaults() Config {
	return Config{Population: 50, TopK: 10, Generations: 20, Mutations: 25, Crossovers: 25, MutationProb: 0.2}
}

// Score is a candidate's fitness: higher accuracy wins, lower loss breaks ties.
type Score struct {
	Accuracy float64 `json:"val_accuracy"`
	Loss     float64 `json:"val_loss"`
}

// Better reports whether s ranks above o.
func (s Score) Better(o Score) bool {
	if s.Accuracy != o.Accuracy {
		return s.Accuracy > o.Accuracy
	}
	return s.Loss < o.Loss
}

// byScore orders candidates best first (for slices.SortStableFunc).
func byScore(a, b Candidate) int {
	switch {
	case a.Score.Better(b.Score):
		return -1
	case b.Score.Better(a.Score):
		return 1
	}
	return 0
}

// Best is the n best distinct structures of cs by score (the earlier on a
// tie).
func Best(cs []Candidate, n int) []Candidate {
	sorted := slices.Clone(cs)
	slices.SortStableFunc(sorted, byScore)
	var out []Candidate
	seen := map[string]bool{}
	for _, c := range sorted {
		if k := c.Structure.Key(); !seen[k] && len(out) < n {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

// Candidate is one evaluated structure.
type Candidate struct {
	Hash       string          `json:"hash"`
	Params     int             `json:"params"`
	Generation int             `json:"generation"`
	Score                      // val_accuracy, val_loss
	Structure  glora.Structure `json:"structure"`
}

// Evaluator scores a structure (on validation data).
type Evaluator func(ctx context.Context, st glora.Structure) (Score, error)

// Result is the search's outcome.
type Result struct {
	Best      Candidate
	Evaluated int // candidates evaluated in this call (not found in Known)
	Total     int // distinct candidates scored, Known ones included
}

func (c *Config) validate(sp glora.Space) error {
	switch {
	case c.Population < 1 || c.TopK < 1 || c.TopK > c.Population:
		return fmt.Errorf("search: need population ≥ 1 and 1 ≤ topk ≤ population (got %d, %d)", c.Population, c.TopK)
	case c.Generations < 1 || c.Mutations < 0 || c.Crossovers < 0:
		return fmt.Errorf("search: need generations ≥ 1, mutations ≥ 0, crossovers ≥ 0")
	case c.MutationProb <= 0 || c.MutationProb > 1:
		return fmt.Errorf("search: mutation probability %g must be in (0, 1]", c.MutationProb)
	case c.Budget < 0:
		return fmt.Errorf("search: budget %d must be ≥ 0", c.Budget)
	case c.MinParams < 0 || c.MinParams > c.Budget:
		return fmt.Errorf("search: the parameter floor %d must be in [0, budget %d]", c.MinParams, c.Budget)
	}
	return sp.Validate()
}

// MaxCandidates is the most structures a search with cfg scores: the
// first generation's population, then each later generation's children
// (its mutations and crossovers, or as many random structures as fill the
// population beside the topk parents, whichever is more). Children that
// repeat a structure scored before are not scored again, so a search may
// score fewer.
func MaxCandidates(cfg Config) int {
	return cfg.Population + (cfg.Generations-1)*max(cfg.Mutations+cfg.Crossovers, cfg.Population-cfg.TopK)
}

// maxTries bounds the draws for one child that fits the budget and is new.
const maxTries = 100

// Run searches the structures of sp over targets for the best score under
// cfg.Budget. Structures over the budget are rejected before evaluation.
func Run(ctx context.Context, cfg Config, sp glora.Space, targets []glora.Target, eval Evaluator) (Result, error) {
	if err := cfg.validate(sp); err != nil {
		return Result{}, err
	}
	s := &state{cfg: cfg, sp: sp, targets: targets, eval: eval, cache: map[string]Candidate{}}
	s.knownByKey = map[string]Candidate{}
	for _, k := range cfg.Known {
		s.knownByKey[k.Structure.Key()] = k
	}
	var pop []Candidate
	for g := 0; g < cfg.Generations; g++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(g)+1)) // the draws of generation g
		var children []glora.Structure
		seen := map[string]bool{}
		for _, p := range pop {
			seen[p.Structure.Key()] = true
		}
		add := func(st glora.Structure) bool {
			k := st.Key()
			if seen[k] || !s.fits(st) {
				return false
			}
			seen[k] = true
			children = append(children, st)
			return true
		}
		if g > 0 {
			parents := pop[:min(cfg.TopK, len(pop))]
			for range cfg.Mutations {
				for try := 0; try < maxTries; try++ {
					if add(s.mutate(rng, parents[rng.IntN(len(parents))].Structure)) {
						break
					}
				}
			}
			for range cfg.Crossovers {
				if len(parents) < 2 {
					break
				}
				for try := 0; try < maxTries; try++ {
					i, j := rng.IntN(len(parents)), rng.IntN(len(parents)-1)
					if j >= i {
						j++
					}
					if add(s.crossover(rng, parents[i].Structure, parents[j].Structure)) {
						break
					}
				}
			}
		}
		if g == 0 {
			for _, st := range cfg.Initial {
				if len(children) < cfg.Population && sp.ValidateStructure(st, targets) == nil {
					add(st.Clone())
				}
			}
		}
		for tries := 0; len(pop)+len(children) < cfg.Population && tries < maxTries*cfg.Population; tries++ {
			add(s.random(rng))
		}
		for _, st := range children {
			c, err := s.score(ctx, st, g)
			if err != nil {
				return Result{}, err
			}
			pop = append(pop, c)
		}
		slices.SortStableFunc(pop, byScore)
		pop = pop[:min(cfg.TopK, len(pop))]
	}
	if len(pop) == 0 {
		return Result{}, fmt.Errorf("search: no structure fits the budget of %d parameters", cfg.Budget)
	}
	return Result{Best: pop[0], Evaluated: s.evaluated, Total: len(s.cache)}, nil
}

type state struct {
	cfg        Config
	sp         glora.Space
	targets    []glora.Target
	eval       Evaluator
	cache      map[string]Candidate
	knownByKey map[string]Candidate
	evaluated  int
}

// score returns st's candidate, evaluating it only if it is neither
// cached nor known from an earlier run.
func (s *state) score(ctx context.Context, st glora.Structure, gen int) (Candidate, error) {
	k := st.Key()
	if c, ok := s.cache[k]; ok {
		return c, nil
	}
	if c, ok := s.knownByKey[k]; ok {
		s.cache[k] = c
		return c, nil
	}
	if err := ctx.Err(); err != nil {
		return Candidate{}, errors.Join(ErrInterrupted, err)
	}
	sc, err := s.eval(ctx, st)
	if err != nil {
		return Candidate{}, fmt.Errorf("search: evaluating structure %s: %w", st.Hash(), err)
	}
	c := Candidate{Hash: st.Hash(), Params: glora.Params(st, s.targets), Generation: gen, Score: sc, Structure: st}
	s.cache[k] = c
	s.evaluated++
	if s.cfg.Record != nil {
		if err := s.cfg.Record(c); err != nil {
			return Candidate{}, fmt.Errorf("search: recording a candidate: %w", err)
		}
	}
	return c, nil
}

// ErrInterrupted is returned when the context ends mid-search; every
// candidate evaluated so far has been recorded.
var ErrInterrupted = errors.New("search interrupted")

// fits reports whether st reads between MinParams and Budget parameters.
func (s *state) fits(st glora.Structure) bool {
	n := glora.Params(st, s.targets)
	return n <= s.cfg.Budget && n >= s.cfg.MinParams
}

func (s *state) random(rng *rand.Rand) glora.Structure {
	return Random(rng, s.sp, s.targets, s.cfg.Budget)
}

// Random draws a structure of sp over targets uniformly; if it is over the
// budget, it is shrunk by setting randomly chosen tensors to none until it
// fits (under a tight budget, such as LoRA-rank-8's, plain rejection
// sampling would almost never draw a structure that fits).
func Random(rng *rand.Rand, sp glora.Space, targets []glora.Target, budget int) glora.Structure {
	st := sp.Sample(rng, targets)
	for glora.Params(st, targets) > budget {
		t := targets[rng.IntN(len(targets))]
		lc := st[t.Path]
		lc[rng.IntN(len(lc))] = glora.ChoiceNone
		st[t.Path] = lc
	}
	return st
}

// mutate redraws each layer's each tensor of parent with probability
// MutationProb.
func (s *state) mutate(rng *rand.Rand, parent glora.Structure) glora.Structure {
	st := parent.Clone()
	for _, t := range s.targets {
		lc := st[t.Path]
		fresh := s.sp.SampleLayer(rng, t)
		for i := range lc {
			if rng.Float64() < s.cfg.MutationProb {
				lc[i] = fresh[i]
			}
		}
		st[t.Path] = lc
	}
	return st
}

// crossover takes each layer's each tensor from a or b uniformly.
func (s *state) crossover(rng *rand.Rand, a, b glora.Structure) glora.Structure {
	st := make(glora.Structure, len(s.targets))
	for _, t := range s.targets {
		la, lb := a[t.Path], b[t.Path]
		var lc glora.LayerChoice
		for i := range lc {
			lc[i] = la[i]
			if rng.IntN(2) == 1 {
				lc[i] = lb[i]
			}
		}
		st[t.Path] = lc
	}
	return st
}
