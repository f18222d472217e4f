package apportion

import (
	"slices"
	"testing"
)

func TestShares(t *testing.T) {
	for _, c := range []struct {
		total int
		sizes []int
		want  []int
	}{
		{10, []int{5, 5}, []int{5, 5}},
		{10, []int{50, 50}, []int{5, 5}},
		{3, []int{1, 1, 1, 1}, []int{1, 1, 1, 0}},
		{3, []int{2, 1}, []int{2, 1}},
		{2, []int{1, 1, 2}, []int{1, 0, 1}},
		{5, []int{0, 9}, []int{0, 5}},
		{5, []int{10, 0, 10}, []int{3, 0, 2}},
		{7, []int{1, 100}, []int{0, 7}},
		{0, []int{0, 0}, []int{0, 0}},
	} {
		if got := Shares(c.total, c.sizes); !slices.Equal(got, c.want) {
			t.Errorf("Shares(%d, %v) = %v, want %v", c.total, c.sizes, got, c.want)
		}
	}
}
