package ingest

import (
	"maps"
	"slices"
)

// EdgeIDs lists the edges the applier has counters for (those that sent
// or dead-lettered a batch since the hub started), sorted.
func (a *Applier) EdgeIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(maps.Keys(a.perEdge))
}
