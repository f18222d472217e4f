// Package autograd is glora's reverse-mode automatic differentiation.
//
// A Tape records, for every operation run on it, a closure that computes the
// operation's backward pass; Backward replays them in reverse. Operations are
// coarse (Linear, LayerNorm, attention, …) with hand-written backward passes
// beside their forward passes, as in llm.c, so no gradient ever builds an
// outer product that a matmul could have fused.
//
// Errors are sticky, as with bufio.Scanner: an operation given operands of the
// wrong shape records the error on the tape and returns a placeholder; every
// later operation is a no-op, and Err and Backward return the first error.
// Nothing panics on bad shapes.
//
// Memory: values and gradients that operations allocate come from the tape's
// buffer pool. Reset returns them all to the pool, so a training loop that
// calls Reset each step reuses one step's worth of memory; a Var produced on
// the tape must not be used after Reset (copy what must be kept). A request
// takes a free piece of its size to a quarter more, or cuts its size from a
// longer free piece, and returned pieces merge again; a pool grown past 1.5
// times the recent steps' peak gives buffers that went unused for two steps
// back to the collector. So steps whose mix of shapes changes (a supernet's
// structures, documents padded to each batch's longest) share buffers
// instead of keeping a set for every shape (pool.go).
package autograd

import (
	"fmt"
	"math"
	"slices"

	"github.com/glora/glora/tensor"
)

// Var is a tensor value in a computation, with its gradient.
type Var struct {
	Value        *tensor.Tensor
	Grad         *tensor.Tensor // d(loss)/d(Value); nil until a gradient reaches it
	RequiresGrad bool           // leaves: whether to compute Grad; outputs: any input requires it
	Name         string         // optional, for error messages and parameter lists

	tape *Tape // non-nil for op outputs: buffers belong to this tape's pool
	view bool  // the value shares another Var's buffer (Tape.Wrap)
}

// NewVar wraps a tensor as a leaf of the graph.
func NewVar(t *tensor.Tensor, requiresGrad bool) *Var {
	return &Var{Value: t, RequiresGrad: requiresGrad}
}

// Param wraps a tensor as a named trainable leaf.
func Param(name string, t *tensor.Tensor) *Var {
	return &Var{Value: t, RequiresGrad: true, Name: name}
}

// Shape is the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape }

// ZeroGrad clears the gradient (keeping its buffer).
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Zero()
	}
}

// Tape records operations for reverse-mode differentiation.
type Tape struct {
	// NoGrad turns recording off: operations compute values only
	// (inference). Set it before running operations.
	NoGrad bool
	// Precision is the arithmetic of the matrix products run on this tape,
	// forward and backward (Linear, MatMul, attention, GLoRA's layers):
	// tensor.F32 (the zero value) or tensor.BF16. Set it before running
	// operations; it is the one place a computation's precision is chosen.
	Precision tensor.Precision

	backward []func()
	owner    []*Var // owner[i]: the Var whose Record added backward[i] (nil: Recompute's)
	err      error
	pool     pool // the buffers of values and gradients (pool.go)
}

// NewTape returns an empty tape that records gradients.
func NewTape() *Tape { return &Tape{pool: newPool()} }

// Err returns the first error an operation recorded.
func (tp *Tape) Err() error { return tp.err }

// Fail records err (if it is the first) and returns a placeholder Var.
// Operations call it on bad input.
func (tp *Tape) Fail(err error) *Var {
	if tp.err == nil {
		tp.err = err
	}
	return tp.dead()
}

// OK reports whether the tape has no error and every operand is usable.
// An operation starts with `if !tp.OK(a, b) { return tp.Dead() }`.
func (tp *Tape) OK(vs ...*Var) bool {
	if tp.err != nil {
		return false
	}
	for i, v := range vs {
		if v == nil || v.Value == nil {
			tp.err = fmt.Errorf("autograd: operand %d is nil", i)
			return false
		}
	}
	return true
}

// Dead is the placeholder returned by operations on a failed tape.
func (tp *Tape) Dead() *Var { return tp.dead() }

func (tp *Tape) dead() *Var { return &Var{Value: &tensor.Tensor{Shape: []int{0}}, tape: tp} }

// Alloc returns a zeroed tensor from the tape's pool.
func (tp *Tape) Alloc(shape ...int) *tensor.Tensor {
	t := tp.AllocRaw(shape...)
	clear(t.Data)
	return t
}

// AllocRaw returns a tensor from the tape's pool whose contents are garbage;
// the caller must overwrite every element.
func (tp *Tape) AllocRaw(shape ...int) *tensor.Tensor {
	return &tensor.Tensor{Shape: append([]int(nil), shape...), Data: tp.pool.get(tensor.Numel(shape))}
}

// NewOutput allocates an op's output Var (zeroed) that requires a gradient
// when any of inputs does and the tape records.
func (tp *Tape) NewOutput(shape []int, inputs ...*Var) *Var {
	return &Var{Value: tp.Alloc(shape...), RequiresGrad: tp.needsGrad(inputs...), tape: tp}
}

// NewOutputRaw is NewOutput without zeroing the value.
func (tp *Tape) NewOutputRaw(shape []int, inputs ...*Var) *Var {
	return &Var{Value: tp.AllocRaw(shape...), RequiresGrad: tp.needsGrad(inputs...), tape: tp}
}

// Wrap makes an op output Var from a tensor the op computed itself (its
// buffer is not from the pool, e.g. a reshaped view of an input's value).
func (tp *Tape) Wrap(t *tensor.Tensor, inputs ...*Var) *Var {
	return &Var{Value: t, RequiresGrad: tp.needsGrad(inputs...), tape: tp, view: true}
}

// Free hands the value buffers of op outputs that are no longer needed back
// to the pool before Reset, so a long forward pass without gradients (NoGrad)
// holds only the activations still in use. It frees nothing on a tape that
// records gradients: a recorded backward pass may read a value that needs no
// gradient itself (the input of a layer whose weights train while the layer
// before it is frozen, e.g. an adapter on a frozen backbone). It ignores
// views and Vars not made by this tape. A freed Var must not be used again.
func (tp *Tape) Free(vs ...*Var) {
	if !tp.NoGrad {
		return
	}
	for _, v := range vs {
		if v == nil || v.tape != tp || v.view || v.RequiresGrad || v.Value == nil {
			continue
		}
		tp.release(v.Value.Data)
		v.Value = nil
	}
}

// Release hands a scratch buffer an operation got from Alloc or AllocRaw
// back to the pool before Reset (e.g. a temporary of a backward pass, or
// a forward temporary the backward pass will not need). The caller must
// not use t afterwards. A tensor not from this tape's pool is ignored.
func (tp *Tape) Release(t *tensor.Tensor) {
	if t != nil {
		tp.release(t.Data)
	}
}

func (tp *Tape) needsGrad(inputs ...*Var) bool {
	if tp.NoGrad {
		return false
	}
	for _, v := range inputs {
		if v.RequiresGrad {
			return true
		}
	}
	return false
}

// Mark is the tape's position: the number of backward closures recorded
// so far. Recompute takes the Mark made right after its Var was produced;
// a Recompute call moves the positions after its own mark, so a mark must
// be taken after every earlier Recompute call whose mark is not later.
func (tp *Tape) Mark() int { return len(tp.backward) }

// After is the mark right after v's own backward closure (Record's), the
// position from which its consumers' closures follow, taken now: where
// Recompute calls with earlier marks have moved it since, or where other
// closures came between v's and the Mark a caller could take, After still
// finds it. It is −1 when v recorded none on this tape.
func (tp *Tape) After(v *Var) int {
	for i := len(tp.owner) - 1; i >= 0; i-- {
		if tp.owner[i] == v {
			return i + 1
		}
	}
	return -1
}

// Recompute trades memory for time (activation recomputation): it hands
// v's value buffer back to the pool now, so the rest of the forward pass
// reuses it, and has the backward pass rebuild it with fill just before
// the backward closures recorded since mark (v's consumers, mark being
// Mark() right after v was produced) run, and hand it back again once
// they have. fill must write every element of dst from values the
// backward pass still holds (e.g. the input v was computed from), exactly
// as the forward pass did, so that gradients do not change.
//
// Call it after v's last use in the forward pass. v's consumers must read
// v.Value when their backward runs, not a slice of it taken in the forward
// pass (autograd's Linear and glora's layers do); v's own backward closure
// must not read v's value. Without consumers that recorded a closure, the
// buffer is simply released; without gradients (NoGrad) it does nothing
// (Free releases values there).
func (tp *Tape) Recompute(v *Var, mark int, fill func(dst []float32)) {
	if tp.NoGrad || v.tape != tp || v.view || v.Value == nil || mark < 0 || mark > len(tp.backward) {
		return
	}
	shape := v.Value.Shape
	tp.release(v.Value.Data)
	v.Value = &tensor.Tensor{Shape: shape} // no data until the backward pass refills it
	if mark == len(tp.backward) {
		return
	}
	tp.backward = append(tp.backward, func() {
		t := tp.AllocRaw(shape...)
		fill(t.Data)
		v.Value = t
	})
	tp.owner = append(tp.owner, nil)
	// The closures from mark on run before this one, in reverse order: it
	// runs once every consumer's backward has.
	tp.backward = slices.Insert(tp.backward, mark, func() {
		tp.release(v.Value.Data)
		v.Value = &tensor.Tensor{Shape: shape}
	})
	tp.owner = slices.Insert(tp.owner, mark, nil)
}

// Discard hands the value buffers of op outputs that no backward closure
// reads back to the pool before Reset, also on a tape that records
// gradients (where Free does nothing): e.g. a Linear's output consumed only
// by Add, whose backward passes gradients through without reading values.
// The caller vouches for that; a Var keeps its shape (its gradient is still
// made), but its value has no data and must not be read again. Views and
// Vars not made by this tape are ignored.
func (tp *Tape) Discard(vs ...*Var) {
	for _, v := range vs {
		if v == nil || v.tape != tp || v.view || v.Value == nil || v.Value.Data == nil {
			continue
		}
		tp.release(v.Value.Data)
		v.Value = &tensor.Tensor{Shape: v.Value.Shape}
	}
}

// Record adds a backward closure for out. It is kept only if out requires a
// gradient; the closure runs only if a gradient reached out (out.Grad != nil).
// After it ran, out's gradient buffer goes back to the pool and out.Grad is
// nil: gradients of intermediate values are not kept (leaves' are).
func (tp *Tape) Record(out *Var, backward func()) {
	if tp.NoGrad || !out.RequiresGrad {
		return
	}
	tp.owner = append(tp.owner, out)
	tp.backward = append(tp.backward, func() {
		if out.Grad != nil {
			backward()
			// Every consumer of out ran its backward before this one: out's
			// gradient is spent. Hand its buffer back so later gradients of
			// this pass reuse it (PyTorch likewise keeps no non-leaf grads).
			if out.tape == tp && out.Grad != nil { // nil: handed on (TakeGrad)
				tp.release(out.Grad.Data)
				out.Grad = nil
			}
		}
	})
}

// TakeGrad hands y's gradient buffer on to x as x's gradient, for an
// elementwise backward pass that overwrites dy with dx in place (each
// element of dy read before its dx is written), one buffer fewer than
// GradBuf's: GELU's backward pass, whose output and input gradients are
// the MLP's widest buffers, so writes dx. It does so only when x is an op
// output of this tape that has no gradient yet and as many elements as y,
// and y's gradient is a buffer of this tape; it returns x's new gradient
// (its contents dy's), or nil where it did not. Call it only in y's own
// backward closure (Record), the last reader of y's gradient: y.Grad is nil
// after it.
func (tp *Tape) TakeGrad(y, x *Var) *tensor.Tensor {
	if tp.NoGrad || !x.RequiresGrad || x.Grad != nil || x.tape != tp || x.view || x.Value == nil ||
		y.Grad == nil || y.tape != tp || len(y.Grad.Data) != x.Value.Numel() {
		return nil
	}
	x.Grad = &tensor.Tensor{Shape: append([]int(nil), x.Value.Shape...), Data: y.Grad.Data}
	y.Grad = nil
	return x.Grad
}

// GradOf returns v's gradient buffer, allocating a zeroed one if needed.
// Backward closures accumulate into it (+=). It returns nil when v does not
// require a gradient, so closures write `if g := tp.GradOf(x); g != nil { … }`.
func (tp *Tape) GradOf(v *Var) *tensor.Tensor {
	if !v.RequiresGrad {
		return nil
	}
	if v.Grad == nil {
		if v.tape == tp {
			v.Grad = tp.Alloc(v.Value.Shape...)
		} else {
			v.Grad = tensor.New(v.Value.Shape...)
		}
	}
	return v.Grad
}

// GradBuf is GradOf for operations that can overwrite a gradient instead of
// adding to it. When v's gradient buffer is created by this call it comes
// from the pool uninitialised and fresh is true: the operation must write
// every element (e.g. a GEMM with beta = 0, or clear-then-accumulate inside
// its own cache-sized chunks). Otherwise fresh is false and the operation
// accumulates as with GradOf. This saves a full memory pass per gradient.
func (tp *Tape) GradBuf(v *Var) (g *tensor.Tensor, fresh bool) {
	if !v.RequiresGrad {
		return nil, false
	}
	if v.Grad == nil && v.tape == tp {
		v.Grad = tp.AllocRaw(v.Value.Shape...)
		return v.Grad, true
	}
	return tp.GradOf(v), false
}

// Backward computes the gradients of the scalar loss with respect to every
// Var that requires one, accumulating into leaves' Grad. It fails on a tape
// error, a non-scalar loss, or a loss that is NaN or ±Inf.
func (tp *Tape) Backward(loss *Var) error {
	if tp.err != nil {
		return tp.err
	}
	if loss.Value.Numel() != 1 {
		return tensor.Errorf("backward", "loss must hold one element", loss.Value.Shape)
	}
	if l := float64(loss.Value.Data[0]); math.IsNaN(l) || math.IsInf(l, 0) {
		return fmt.Errorf("autograd: loss is %v", l)
	}
	if !loss.RequiresGrad {
		return fmt.Errorf("autograd: loss does not depend on any Var that requires a gradient")
	}
	g := tp.GradOf(loss)
	g.Data[0] = 1
	for i := len(tp.backward) - 1; i >= 0; i-- {
		tp.backward[i]()
	}
	tp.backward = tp.backward[:0]
	clear(tp.owner)
	tp.owner = tp.owner[:0]
	return tp.err
}

// Reset forgets the recorded operations and the error, and returns every
// buffer handed out since the last Reset to the pool.
func (tp *Tape) Reset() {
	clear(tp.backward)
	tp.backward = tp.backward[:0]
	clear(tp.owner)
	tp.owner = tp.owner[:0]
	tp.err = nil
	tp.pool.reset()
}

// release returns one buffer handed out by this tape to the pool before
// Reset (a buffer not from the pool is ignored).
func (tp *Tape) release(buf []float32) { tp.pool.release(buf) }

// PoolBytes is the memory the tape's buffers hold (in use and free).
func (tp *Tape) PoolBytes() int64 { return tp.pool.bytes() }
