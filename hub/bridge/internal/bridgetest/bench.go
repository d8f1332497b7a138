package bridgetest

import (
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/bridge"
)

// BenchOutbound measures how fast an outbound bridge drains a backlog of
// b.N change events into the sinks newSink makes: the bridge's consumer is
// created, stopped, b.N documents are written, and the timer runs from the
// bridge's start until the peer confirmed every event. It reports
// events/s.
func (e *Env) BenchOutbound(b *testing.B, cfg bridge.Config, newSink func() bridge.Sink) {
	e.Layer(b, "gridflex", "meters")
	_, stop := e.StartOutbound(b, cfg, newSink())
	stop()
	e.Write(b, "gridflex", "meters", 0, b.N)
	b.ResetTimer()
	start := time.Now()
	o, stop := e.StartOutbound(b, cfg, newSink())
	Eventually(b, 10*time.Minute, "backlog forwarded", func() bool { return o.Stats().Sent >= uint64(b.N) })
	el := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
}
