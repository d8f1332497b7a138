package agent

import (
	"bufio"
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"

	emetrics "github.com/gridedge/gridedge/edge/metrics"
)

// goMemoryClasses are the runtime/metrics memory classes exported as
// gridedge_agent_go_memory_bytes{class} ("heap/objects", "heap/stacks",
// …): every class but the total, so together they are all the memory the
// Go runtime mapped (docs/operations.md, "Agent resource use").
var goMemoryClasses = func() []string {
	var classes []string
	for _, d := range metrics.All() {
		c, ok := strings.CutPrefix(d.Name, "/memory/classes/")
		if ok && !strings.HasPrefix(c, "total:") {
			classes = append(classes, strings.TrimSuffix(c, ":bytes"))
		}
	}
	return classes
}()

// goMetricNames are the runtime/metrics samples writeMemoryMetrics reads:
// the memory classes, then the heap's live bytes and goal, the GC cycles
// and the goroutines.
var goMetricNames = func() []string {
	var names []string
	for _, c := range goMemoryClasses {
		names = append(names, "/memory/classes/"+c+":bytes")
	}
	return append(names, "/gc/heap/live:bytes", "/gc/heap/goal:bytes", "/gc/cycles/total:gc-cycles", "/sched/goroutines:goroutines")
}()

// writeMemoryMetrics writes the process's resident memory (Linux) and the
// Go runtime's memory figures: what the RSS consists of, without a
// profiling build.
func writeMemoryMetrics(w *emetrics.Writer) {
	if anon, file, ok := residentMemory(); ok {
		w.Family("gridedge_agent_resident_memory_bytes", "Resident memory of the agent process: anon (Go runtime: heap, stacks, metadata) and file (the binary's pages).", emetrics.Gauge)
		w.Sample(emetrics.L("kind", "anon"), anon)
		w.Sample(emetrics.L("kind", "file"), file)
	}
	samples := make([]metrics.Sample, len(goMetricNames))
	for i, n := range goMetricNames {
		samples[i].Name = n
	}
	metrics.Read(samples)
	value := func(s metrics.Sample) float64 {
		if s.Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return float64(s.Value.Uint64())
	}
	w.Family("gridedge_agent_go_memory_bytes", "Memory the Go runtime mapped, by runtime/metrics class (heap/objects, heap/stacks, …).", emetrics.Gauge)
	for i, c := range goMemoryClasses {
		w.Sample(emetrics.L("class", c), value(samples[i]))
	}
	rest := samples[len(goMemoryClasses):]
	w.Family("gridedge_agent_go_heap_live_bytes", "Heap bytes live after the last garbage collection.", emetrics.Gauge)
	w.Sample(nil, value(rest[0]))
	w.Family("gridedge_agent_go_heap_goal_bytes", "Heap size at which the next garbage collection starts (see gcPercent).", emetrics.Gauge)
	w.Sample(nil, value(rest[1]))
	w.Family("gridedge_agent_go_gc_cycles_total", "Completed garbage-collection cycles.", emetrics.Counter)
	w.Sample(nil, value(rest[2]))
	w.Family("gridedge_agent_goroutines", "Goroutines of the agent.", emetrics.Gauge)
	w.Sample(nil, value(rest[3]))
}

// residentMemory reads RssAnon and RssFile of /proc/self/status in bytes;
// ok is false where there is no such file (not Linux).
func residentMemory() (anon, file float64, ok bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, rest, _ := strings.Cut(sc.Text(), ":")
		if key != "RssAnon" && key != "RssFile" {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0, 0, false
		}
		if key == "RssAnon" {
			anon = kb * 1024
		} else {
			file = kb * 1024
		}
		found++
	}
	return anon, file, found == 2
}
