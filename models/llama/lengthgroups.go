package llama

import (
	"slices"

	ag "github.com/glora/glora/autograd"
)

// byLength has a classifier run its rows in groups of similar length
// (lengthGroups); off only in tests, to compare.
var byLength = true

// groupTokens is what running one more group costs, counted in padded
// tokens: each group runs every layer as a batch of its own, more
// operations on smaller matrices. BenchmarkClassifierByLength (2 cores,
// AMD Zen 3) took 72–76 ms a step alike at 16, 32, 64 and 128, against
// 158–181 ms padded.
const groupTokens = 32

// lengthGroups splits the rows of a classifier batch, of lengths n (each
// at least 1), into groups, each run as a batch padded to its own longest
// row. The rows are sorted by length (ties by index) and cut where the
// padded tokens saved pay for another group: the cuts minimise
// Σ_g rows_g·T_g + groupTokens·groups, by dynamic programming over the
// sorted rows (a batch's rows are few). It returns nil when one group, the
// batch as it is, costs least.
//
// A row's hidden state does not depend on the padding after it (causal
// attention), so the groups give each row what the padded batch gives it,
// to float32 rounding: the weight gradients sum over the groups' tokens in
// another order.
func lengthGroups(n []int) [][]int {
	order := make([]int, len(n))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return n[a] - n[b] })
	// cost[j]: the least cost of the first j sorted rows; from[j]: where
	// its last group starts
	cost, from := make([]int, len(n)+1), make([]int, len(n)+1)
	for j := 1; j <= len(n); j++ {
		cost[j] = -1
		t := n[order[j-1]] // the group's longest row
		for i := 0; i < j; i++ {
			if c := cost[i] + (j-i)*t + groupTokens; cost[j] < 0 || c < cost[j] {
				cost[j], from[j] = c, i
			}
		}
	}
	if len(n) == 0 || from[len(n)] == 0 {
		return nil
	}
	var groups [][]int
	for j := len(n); j > 0; j = from[j] {
		groups = append(groups, order[from[j]:j])
	}
	slices.Reverse(groups)
	return groups
}

// hiddenGroups is the classifier's hidden states (B, D) at the rows' last
// tokens, last[b] for row b of ids (B, T), computed group by group: each
// group's rows cut to its longest, its states concatenated and put back
// in the rows' order.
func (c *Classifier) hiddenGroups(tp *ag.Tape, ids []int, T int, last []int, groups [][]int) *ag.Var {
	hs := make([]*ag.Var, len(groups))
	at := make([]int, len(last)) // row b's row in the groups' concatenation
	k := 0
	for g, rows := range groups {
		tg := 0
		for _, b := range rows {
			tg = max(tg, last[b]+1)
		}
		gids, glast := make([]int, 0, len(rows)*tg), make([]int, len(rows))
		for r, b := range rows {
			gids = append(gids, ids[b*T:b*T+tg]...)
			glast[r] = last[b]
			at[b] = k
			k++
		}
		hs[g] = c.hidden(tp, gids, len(rows), tg, glast) // (rows, D)
	}
	return tp.Embedding(tp.Concat(0, hs...), at) // (B, D)
}
