// Package apportion shares a count over groups in proportion to their
// sizes: stratified splits of labelled data (images and text) draw each
// class's share of a validation or test part with it.
package apportion

import "slices"

// Shares splits total over groups in proportion to sizes (largest
// remainder, ties to the lower group), never giving a group more than its
// size. Requires total ≤ Σ sizes.
func Shares(total int, sizes []int) []int {
	sum := 0
	for _, s := range sizes {
		sum += s
	}
	out := make([]int, len(sizes))
	if sum == 0 {
		return out
	}
	type rem struct {
		c int
		r int64
	}
	rems := make([]rem, 0, len(sizes))
	given := 0
	for c, s := range sizes {
		q := int64(total) * int64(s)
		out[c] = int(q / int64(sum))
		given += out[c]
		rems = append(rems, rem{c, q % int64(sum)})
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.r > b.r:
			return -1
		case a.r < b.r:
			return 1
		}
		return 0
	})
	for i := 0; given < total && i < len(rems); i++ {
		if c := rems[i].c; out[c] < sizes[c] {
			out[c]++
			given++
		}
	}
	return out
}
