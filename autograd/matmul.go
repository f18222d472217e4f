package autograd

import (
	"fmt"
	"slices"

	"github.com/glora/glora/tensor"
)

// MatMul is y = op(a)·op(b), where op(x) is x, or xᵀ (its last two
// dimensions swapped) when the matching trans flag is set.
//
//	2-D:        op(a): (M,K)       op(b): (K,N)       →   y: (M,N)
//	batched:    op(a): (...,M,K)   op(b): (...,K,N)   →   y: (...,M,N)  (identical leading dims)
//	broadcast:  op(a): (...,M,K)   op(b): (K,N)       →   y: (...,M,N)  (b shared by every batch)
//	            op(a): (M,K)       op(b): (...,K,N)   →   y: (...,M,N)  (a shared by every batch)
//
// Backward, per batch: d op(a) = dy·op(b)ᵀ, d op(b) = op(a)ᵀ·dy, written as
// GEMMs on the stored layouts (da = op(b)·dyᵀ when transA, db = dyᵀ·op(a) when
// transB); a shared operand's gradient sums over the batch.
func (tp *Tape) MatMul(a, b *Var, transA, transB bool) *Var {
	if !tp.OK(a, b) {
		return tp.Dead()
	}
	d, err := matmulDims(a.Value.Shape, b.Value.Shape, transA, transB)
	if err != nil {
		return tp.Fail(err)
	}
	y := tp.NewOutputRaw(append(slices.Clone(d.lead), d.m, d.n), a, b)
	ad, bd, yd := a.Value.Data, b.Value.Data, y.Value.Data
	m, n, k, batch := d.m, d.n, d.k, d.batch
	if d.foldA || batch == 1 {
		// y (batch·M, N) = op(a) (batch·M, K) · op(b) (K, N)
		tp.Precision.Sgemm(transA, transB, batch*m, n, k, 1, ad, d.lda, bd, d.ldb, 0, yd, n)
	} else {
		// y_i (M,N) = op(a_i) (M,K) · op(b_i) (K,N)
		tp.Precision.SgemmStridedBatched(batch, transA, transB, m, n, k, 1, ad, d.lda, d.strideA, bd, d.ldb, d.strideB, 0, yd, n, m*n)
	}
	tp.Record(y, func() {
		dy := y.Grad.Data
		if g := tp.GradOf(a); g != nil {
			d.gradA(tp.Precision, dy, bd, g.Data)
		}
		if g := tp.GradOf(b); g != nil {
			d.gradB(tp.Precision, ad, dy, g.Data)
		}
	})
	return y
}

// mmDims is a MatMul's shapes: op(a) (…, M, K) · op(b) (…, K, N), batch
// products over the leading dimensions lead, each operand's stored row
// width (lda, ldb) and batch stride (0 when one 2-D operand is shared by
// every batch: sharedA, sharedB).
type mmDims struct {
	m, n, k, batch   int
	lead             []int
	lda, ldb         int
	strideA, strideB int
	transA, transB   bool
	sharedA, sharedB bool
	foldA            bool // a's batches stack into one (batch·M, K) matrix against a shared b
}

// matmulDims checks a MatMul's operand shapes as and bs and works out its
// dimensions.
func matmulDims(as, bs []int, transA, transB bool) (mmDims, error) {
	ra, rb := len(as), len(bs)
	if ra < 2 || rb < 2 {
		return mmDims{}, tensor.Errorf("matmul", "both operands need rank ≥ 2", as, bs)
	}
	d := mmDims{m: as[ra-2], k: as[ra-1], transA: transA, transB: transB}
	if transA {
		d.m, d.k = d.k, d.m
	}
	kb, n := bs[rb-2], bs[rb-1]
	if transB {
		kb, n = n, kb
	}
	d.n = n
	if d.k != kb {
		return mmDims{}, tensor.Errorf("matmul", fmt.Sprintf("inner dimensions %d and %d differ (transA=%v, transB=%v)", d.k, kb, transA, transB), as, bs)
	}
	switch {
	case ra == 2:
		d.lead = bs[:rb-2]
	case rb == 2 || slices.Equal(as[:ra-2], bs[:rb-2]):
		d.lead = as[:ra-2]
	default:
		return mmDims{}, tensor.Errorf("matmul", "batch dimensions must be identical, or one operand 2-D", as, bs)
	}
	d.batch = tensor.Numel(d.lead)
	d.sharedA, d.sharedB = ra == 2 && rb > 2, rb == 2 && ra > 2
	d.lda, d.ldb = d.k, d.n // stored row widths
	if transA {
		d.lda = d.m
	}
	if transB {
		d.ldb = d.k
	}
	d.strideA, d.strideB = d.m*d.k, d.k*d.n
	if d.sharedA {
		d.strideA = 0
	}
	if d.sharedB {
		d.strideB = 0
	}
	d.foldA = d.sharedB && !transA
	return d, nil
}

// gradA adds a's gradient to ga given dy = ∂L/∂y and b's values bd.
func (d mmDims) gradA(p tensor.Precision, dy, bd, ga []float32) {
	m, n, k, batch, transA, transB, ldb, strideB := d.m, d.n, d.k, d.batch, d.transA, d.transB, d.ldb, d.strideB
	switch {
	case d.foldA || batch == 1:
		if !transA {
			// da (batch·M, K) += dy (batch·M, N) · op(b)ᵀ (N, K)
			p.Sgemm(false, !transB, batch*m, k, n, 1, dy, n, bd, ldb, 1, ga, k)
		} else {
			// da (K, M) += op(b) (K, N) · dyᵀ (N, M)
			p.Sgemm(transB, true, k, m, n, 1, bd, ldb, dy, n, 1, ga, m)
		}
	case d.sharedA:
		// da += Σ_i dy_i·op(b_i)ᵀ (or op(b_i)·dy_iᵀ): one GEMM per batch into the same buffer
		for i := 0; i < batch; i++ {
			dyi, bi := dy[i*m*n:], bd[i*strideB:]
			if !transA {
				p.Sgemm(false, !transB, m, k, n, 1, dyi, n, bi, ldb, 1, ga, k)
			} else {
				p.Sgemm(transB, true, k, m, n, 1, bi, ldb, dyi, n, 1, ga, m)
			}
		}
	case !transA:
		// da_i (M, K) += dy_i (M, N) · op(b_i)ᵀ (N, K)
		p.SgemmStridedBatched(batch, false, !transB, m, k, n, 1, dy, n, m*n, bd, ldb, strideB, 1, ga, k, m*k)
	default:
		// da_i (K, M) += op(b_i) (K, N) · dy_iᵀ (N, M)
		p.SgemmStridedBatched(batch, transB, true, k, m, n, 1, bd, ldb, strideB, dy, n, m*n, 1, ga, m, m*k)
	}
}

// gradB adds b's gradient to gb given a's values ad and dy = ∂L/∂y.
func (d mmDims) gradB(p tensor.Precision, ad, dy, gb []float32) {
	m, n, k, batch, transA, transB, lda, strideA := d.m, d.n, d.k, d.batch, d.transA, d.transB, d.lda, d.strideA
	switch {
	case d.foldA || batch == 1:
		if !transB {
			// db (K, N) += op(a)ᵀ (K, batch·M) · dy (batch·M, N)
			p.Sgemm(!transA, false, k, n, batch*m, 1, ad, lda, dy, n, 1, gb, n)
		} else {
			// db (N, K) += dyᵀ (N, batch·M) · op(a) (batch·M, K)
			p.Sgemm(true, transA, n, k, batch*m, 1, dy, n, ad, lda, 1, gb, k)
		}
	case d.sharedB:
		// db += Σ_i op(a_i)ᵀ·dy_i (or dy_iᵀ·op(a_i)): one GEMM per batch into the same buffer
		for i := 0; i < batch; i++ {
			ai, dyi := ad[i*strideA:], dy[i*m*n:]
			if !transB {
				p.Sgemm(!transA, false, k, n, m, 1, ai, lda, dyi, n, 1, gb, n)
			} else {
				p.Sgemm(true, transA, n, k, m, 1, dyi, n, ai, lda, 1, gb, k)
			}
		}
	case !transB:
		// db_i (K, N) += op(a_i)ᵀ (K, M) · dy_i (M, N)
		p.SgemmStridedBatched(batch, !transA, false, k, n, m, 1, ad, lda, strideA, dy, n, m*n, 1, gb, n, k*n)
	default:
		// db_i (N, K) += dy_iᵀ (N, M) · op(a_i) (M, K)
		p.SgemmStridedBatched(batch, true, transA, n, k, m, 1, dy, n, m*n, ad, lda, strideA, 1, gb, k, k*n)
	}
}
