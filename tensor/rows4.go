package tensor

// Column reductions four rows at a time: Σₙ over a matrix's rows (a
// layer's bias gradient Σₙ dy[n,:], Σₙ dy[n,:]⊙y[n,:], Σₙ dy[n,:]·s[n])
// taken in a fixed order, so that a sum is the same on every CPU and for
// every split of the columns among workers; and a row's scale and shift.

// ColSums4 adds, for each group q < groups of four rows of dy (rows 4q to
// 4q+3, row i at dy[i*ld:]), to each of g, da and db that is not nil
// (all of one length w ≤ ld):
//
//	g[j]  += (d₀[j] + d₁[j]) + (d₂[j] + d₃[j])
//	da[j] += (d₀[j]·y₀[j] + d₁[j]·y₁[j]) + (d₂[j]·y₂[j] + d₃[j]·y₃[j])
//	db[j] += (s₀·d₀[j] + s₁·d₁[j]) + (s₂·d₂[j] + s₃·d₃[j])
//
// group after group, where dᵢ and yᵢ are the group's rows of dy and y (y
// has dy's row stride) and sᵢ = sx[4q+i]; each product and sum is rounded
// on its own (no fused multiply-add). One pass over dy for all three: the
// kernels hold a strip of each accumulator in registers from the first
// group to the last (AVX-512: 32 columns, AVX2: 16).
func ColSums4(g, da, db, dy, y, sx []float32, groups, ld int) {
	w, mask := -1, 0
	for i, a := range [][]float32{g, da, db} {
		if a == nil {
			continue
		}
		if w >= 0 && len(a) != w {
			panic("tensor: ColSums4: accumulators of different lengths")
		}
		w, mask = len(a), mask|1<<i
	}
	if w <= 0 || groups <= 0 {
		return
	}
	if w > ld {
		panic("tensor: ColSums4: rows longer than the row stride")
	}
	last := (4*groups-1)*ld + w
	_ = dy[last-1]
	if da != nil {
		_ = y[last-1]
	}
	if db != nil {
		_ = sx[4*groups-1]
	}
	j := colSums4Asm(mask, g, da, db, dy, y, sx, groups, ld, w)
	if j == w {
		return
	}
	for q := range groups {
		r := 4 * q * ld
		if g != nil {
			sumRows4Generic(g[j:w], dy[r+j:], ld)
		}
		if da != nil {
			mulRows4Generic(da[j:w], dy[r+j:], y[r+j:], ld)
		}
		if db != nil {
			scaleRows4Generic(db[j:w], dy[r+j:], ld, (*[4]float32)(sx[4*q:4*q+4]))
		}
	}
}

// ScaleShift sets dst[j] = a[j]·s[j] + b[j], or (a[j]·s[j] + b[j]) +
// v[j]·x with v, each product and sum rounded on its own; with b nil (v
// must be nil then) dst[j] = a[j]·s[j]. dst may be a.
func ScaleShift(dst, a, s, b, v []float32, x float32) {
	n := len(a)
	if b == nil {
		if v != nil {
			panic("tensor: ScaleShift: v without b")
		}
		Mul(dst, a, s)
		return
	}
	dst, s, b = dst[:n], s[:n], b[:n]
	if v != nil {
		v = v[:n]
	}
	i := scaleShiftAsm(dst, a, s, b, v, x)
	for ; i < n; i++ {
		d := float32(a[i]*s[i]) + b[i] // float32(): no fused multiply-add
		if v != nil {
			d += float32(v[i] * x)
		}
		dst[i] = d
	}
}

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
