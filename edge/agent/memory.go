package agent

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// defaultGCPercent is the agent's garbage-collection target (GOGC) unless
// gcPercent or the GOGC environment variable sets one: the heap may grow by
// 25% of the live data between collections instead of Go's default 100%.
//
// Measured with 500 devices × 30 tags every second (docs/operations.md,
// "Agent resource use"): the agent allocates ~5 MB/s over ~11 MB of live
// heap, so at 100% the heap goal was ~30 MB and the RSS 60 MiB; at 25% the
// collector runs about once a second, costs under 1% of a core, and the
// RSS is ~16 MiB lower. A soft memory limit (memoryLimitMiB) is no
// substitute: it lets the heap grow to the limit and then collects
// continuously when the live data nears it.
const defaultGCPercent = 25

// applyMemoryLimit sets the garbage collector's target (debug.SetGCPercent)
// to gcPercent (default defaultGCPercent), unless the GOGC environment
// variable sets it, and the Go runtime's soft memory limit
// (debug.SetMemoryLimit) to memoryLimitMiB, unless that is 0 (the default:
// no limit) or the GOMEMLIMIT environment variable set one. Near the limit
// the garbage collector runs more often and returns freed memory to the
// system instead of letting the heap grow.
//
// There is no limit by default because it was measured to cost more than
// it saves: with 500 devices × 30 tags and Go's default GOGC=100 the RSS
// was ~55 MiB; a 24 MiB limit brought it to 41 MiB but the agent's CPU
// from ~15% to 56% of a core (garbage collection), and 28 MiB still cost
// 28% and overran poll cycles. Set it on a gateway short of memory.
func applyMemoryLimit(c *Config, log *slog.Logger) {
	if os.Getenv("GOGC") == "" {
		pct := c.GCPercent
		if pct == 0 {
			pct = defaultGCPercent
		}
		debug.SetGCPercent(pct)
		log.Debug("garbage collection target set", "percent", pct)
	}
	if os.Getenv("GOMEMLIMIT") != "" || c.MemoryLimitMiB <= 0 {
		return
	}
	limit := int64(c.MemoryLimitMiB) << 20
	debug.SetMemoryLimit(limit)
	log.Debug("soft memory limit set", "bytes", limit)
}
