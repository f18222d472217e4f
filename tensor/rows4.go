package tensor

// Four-row column sums: the inner step of a column reduction Σₙ over a
// matrix's rows (a layer's bias gradient Σₙ dy[n,:], or Σₙ dy[n,:]⊙y[n,:])
// taken four rows at a time in a fixed order, so that a sum is the same on
// every CPU and for every split of the columns among workers. Row i of a
// matrix operand is m[i*ld : i*ld+len(acc)]. One pass over the four rows,
// where building the terms with Add and Mul took seven.

// SumRows4 is acc[j] += (m₀[j] + m₁[j]) + (m₂[j] + m₃[j]).
func SumRows4(acc, m []float32, ld int) {
	n := len(acc)
	if n == 0 {
		return
	}
	_ = m[3*ld+n-1]
	done := rows4Asm(rows4Sum, acc, m, nil, ld, nil)
	sumRows4Generic(acc[done:], m[done:], ld)
}

// MulRows4 is acc[j] += (a₀[j]·b₀[j] + a₁[j]·b₁[j]) + (a₂[j]·b₂[j] + a₃[j]·b₃[j]),
// each product rounded on its own (no fused multiply-add); a and b share
// the row stride ld.
func MulRows4(acc, a, b []float32, ld int) {
	n := len(acc)
	if n == 0 {
		return
	}
	_, _ = a[3*ld+n-1], b[3*ld+n-1]
	done := rows4Asm(rows4Mul, acc, a, b, ld, nil)
	mulRows4Generic(acc[done:], a[done:], b[done:], ld)
}

// ScaleRows4 is acc[j] += (s₀·m₀[j] + s₁·m₁[j]) + (s₂·m₂[j] + s₃·m₃[j]),
// each product rounded on its own.
func ScaleRows4(acc, m []float32, ld int, s *[4]float32) {
	n := len(acc)
	if n == 0 {
		return
	}
	_ = m[3*ld+n-1]
	done := rows4Asm(rows4Scale, acc, m, nil, ld, s)
	scaleRows4Generic(acc[done:], m[done:], ld, s)
}

// The three kinds of rows4Asm.
const (
	rows4Sum = iota
	rows4Mul
	rows4Scale
)

func sumRows4Generic(acc, m []float32, ld int) {
	for j := range acc {
		acc[j] += float32(m[j]+m[ld+j]) + float32(m[2*ld+j]+m[3*ld+j])
	}
}

func mulRows4Generic(acc, a, b []float32, ld int) {
	for j := range acc {
		p0, p1 := float32(a[j]*b[j]), float32(a[ld+j]*b[ld+j])
		p2, p3 := float32(a[2*ld+j]*b[2*ld+j]), float32(a[3*ld+j]*b[3*ld+j])
		acc[j] += float32(p0+p1) + float32(p2+p3)
	}
}

func scaleRows4Generic(acc, m []float32, ld int, s *[4]float32) {
	for j := range acc {
		p0, p1 := float32(s[0]*m[j]), float32(s[1]*m[ld+j])
		p2, p3 := float32(s[2]*m[2*ld+j]), float32(s[3]*m[3*ld+j])
		acc[j] += float32(p0+p1) + float32(p2+p3)
	}
}
