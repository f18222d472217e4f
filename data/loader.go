package data

import (
	"iter"
	"math/rand/v2"
	"sync"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	BatchSize int
	DropLast  bool // drop the last, short batch of an epoch
	Shuffle   bool // a fresh seeded permutation per epoch; false = index order
	Seed      uint64
	// Preprocess turns images into model input. Its Rand is ignored: when
	// augmentation is enabled (PadCrop > 0 or HFlip) the loader seeds a
	// source per batch from (Seed, epoch, batch).
	Preprocess Preprocess
}

// Loader iterates over a dataset in batches, epoch by epoch. Everything it
// yields is a pure function of (Seed, epoch, batch number), so a run resumed
// at (epoch, batch) sees exactly the data order and augmentation of the
// original run.
type Loader struct {
	ds  *Dataset
	cfg LoaderConfig

	mu         sync.Mutex
	orderEpoch int
	order      []int
}

// NewLoader checks the configuration and returns a loader over ds.
func NewLoader(ds *Dataset, cfg LoaderConfig) (*Loader, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 {
		return nil, dataErr("loader: batch size %d, want > 0", cfg.BatchSize)
	}
	if ds.Len() == 0 || (cfg.DropLast && ds.Len() < cfg.BatchSize) {
		return nil, dataErr("loader: dataset %q of %d images yields no batch of %d (drop_last=%v)",
			ds.Name, ds.Len(), cfg.BatchSize, cfg.DropLast)
	}
	cfg.Preprocess.Rand = nil
	return &Loader{ds: ds, cfg: cfg, orderEpoch: -1}, nil
}

// Dataset returns the dataset iterated over.
func (l *Loader) Dataset() *Dataset { return l.ds }

// NumBatches is the number of batches per epoch: ⌊N/B⌋ with DropLast,
// else ⌈N/B⌉.
func (l *Loader) NumBatches() int {
	n, b := l.ds.Len(), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order returns the permutation of [0,N) used in epoch e (a copy):
// with Shuffle, a Fisher–Yates shuffle driven by PCG(Seed, e); else 0…N-1.
func (l *Loader) Order(epoch int) []int {
	return append([]int(nil), l.orderOf(epoch)...)
}

func (l *Loader) orderOf(epoch int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.order != nil && l.orderEpoch == epoch {
		return l.order
	}
	n := l.ds.Len()
	ord := make([]int, n)
	for i := range ord {
		ord[i] = i
	}
	if l.cfg.Shuffle {
		rng := rand.New(rand.NewPCG(l.cfg.Seed, mix64(uint64(epoch)^0x6f72646572)))
		rng.Shuffle(n, func(i, j int) { ord[i], ord[j] = ord[j], ord[i] })
	}
	l.order, l.orderEpoch = ord, epoch
	return ord
}

// BatchIndices returns the dataset indices of batch b of epoch e (a slice
// of the epoch's order; do not modify).
func (l *Loader) BatchIndices(epoch, b int) ([]int, error) {
	if b < 0 || b >= l.NumBatches() {
		return nil, dataErr("loader: batch %d outside [0,%d)", b, l.NumBatches())
	}
	ord := l.orderOf(epoch)
	return ord[b*l.cfg.BatchSize : min((b+1)*l.cfg.BatchSize, len(ord))], nil
}

// MiniBatch is one preprocessed batch.
type MiniBatch struct {
	X       []float32 // (B, C, H, W) model input
	Shape   [4]int    // B, C, H, W
	Labels  []int     // (B)
	Indices []int     // (B) dataset indices
	Epoch   int
	Index   int // batch number within the epoch
}

// Batch preprocesses batch b of epoch e, reusing dst when large enough.
func (l *Loader) Batch(epoch, b int, dst []float32) (MiniBatch, error) {
	idx, err := l.BatchIndices(epoch, b)
	if err != nil {
		return MiniBatch{}, err
	}
	p := l.cfg.Preprocess
	if p.PadCrop > 0 || p.HFlip {
		p.Rand = rand.New(rand.NewPCG(l.cfg.Seed^0x6175676d656e74, mix64(uint64(epoch)<<32^uint64(b))))
	}
	x, err := Batch(l.ds, idx, p, dst)
	if err != nil {
		return MiniBatch{}, err
	}
	c, h, w := p.OutShape(l.ds)
	labels := make([]int, len(idx))
	for i, j := range idx {
		labels[i] = l.ds.Labels[j]
	}
	return MiniBatch{X: x, Shape: [4]int{len(idx), c, h, w}, Labels: labels,
		Indices: append([]int(nil), idx...), Epoch: epoch, Index: b}, nil
}

// Epoch iterates over the batches of epoch e from batch start (0 for a
// whole epoch; later to resume mid-epoch). The X buffer is reused: a
// batch's X is valid until the next iteration. Iteration stops after the
// first error, which is yielded.
func (l *Loader) Epoch(epoch, start int) iter.Seq2[MiniBatch, error] {
	return func(yield func(MiniBatch, error) bool) {
		var buf []float32
		for b := max(start, 0); b < l.NumBatches(); b++ {
			bt, err := l.Batch(epoch, b, buf)
			if err != nil {
				yield(MiniBatch{}, err)
				return
			}
			buf = bt.X
			if !yield(bt, nil) {
				return
			}
		}
	}
}

// mix64 is the SplitMix64 finaliser, to decorrelate nearby stream ids.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
