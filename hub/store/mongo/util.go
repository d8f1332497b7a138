package mongo

import (
	"slices"
)

func sortStrings(s []string) { slices.Sort(s) }

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
