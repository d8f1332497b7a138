// Command gridedge-backlog writes a synthetic, backdated backlog into an edge
// agent's store-and-forward buffer (<dataDir>/buffer.db) before the agent
// starts, for benchmarks of the replay after an outage (hub/e2e
// BenchmarkBacklogReplay). See package edge/buffer/backlog for what it
// writes. It is a benchmark tool: it is not packaged with the agent.
//
//	gridedge-backlog --buffer DATA/buffer.db --devices 500 --duration 24h --expect expect.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/edge/buffer/backlog"
)

// summary is what --expect writes: the backlog and the buffer file it made.
type summary struct {
	Devices    int                           `json:"devices"`
	Tags       int                           `json:"tags"`
	Cycles     int                           `json:"cycles"`
	PeriodMS   int64                         `json:"period_ms"`
	Updates    uint64                        `json:"updates"`
	Readings   uint64                        `json:"readings"`
	FirstSeq   uint64                        `json:"first_seq"`
	LastSeq    uint64                        `json:"last_seq"`
	Start      time.Time                     `json:"start"`
	First      time.Time                     `json:"first"`
	Last       time.Time                     `json:"last"`
	WireBytes  uint64                        `json:"wire_bytes"`
	FileBytes  int64                         `json:"file_bytes"`
	Seconds    float64                       `json:"seconds"`
	LastValues map[string]map[string]float64 `json:"last_values"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gridedge-backlog:", err)
		os.Exit(1)
	}
}

func run() error {
	path := flag.String("buffer", "", "the agent's buffer file (<dataDir>/buffer.db); created when missing")
	devices := flag.Int("devices", 500, "number of devices (documents D1…Dn)")
	duration := flag.Duration("duration", time.Hour, "how much data: the outage's length")
	period := flag.Duration("period", time.Second, "poll period")
	endFlag := flag.String("end", "", "time of the last cycle, RFC 3339 (default: now, to the period)")
	expect := flag.String("expect", "", "write a JSON summary with the last value of every tag here")
	flag.Parse()
	if *path == "" {
		return fmt.Errorf("--buffer is required")
	}
	if *period <= 0 || *duration < *period {
		return fmt.Errorf("--duration %v and --period %v: want a positive period no longer than the duration", *duration, *period)
	}
	end := time.Now().Truncate(*period)
	if *endFlag != "" {
		var err error
		if end, err = time.Parse(time.RFC3339, *endFlag); err != nil {
			return fmt.Errorf("--end %q: %w", *endFlag, err)
		}
	}
	cycles := int(*duration / *period)
	o := backlog.Options{Devices: *devices, Cycles: cycles, Period: *period, Start: end.Add(-time.Duration(cycles-1) * *period)}
	// The file is written unsynced and at once (the agent syncs its own
	// commits); reject-new makes a bound that is too small an error
	// instead of a silent drop.
	buf, err := buffer.Open(*path, buffer.Options{MaxUpdates: 1 << 40, MaxBytes: 1 << 40, Overflow: buffer.RejectNew,
		NoSync: true, GroupCommitDelay: time.Microsecond, Logger: slog.Default()})
	if err != nil {
		return err
	}
	t0, lastReport := time.Now(), time.Now()
	o.Progress = func(done int) {
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(os.Stderr, "gridedge-backlog: %d of %d cycles (%.0f updates/s)\n", done, cycles,
				float64(done*o.Devices)/time.Since(t0).Seconds())
		}
	}
	res, err := backlog.Write(buf, o)
	if err != nil {
		buf.Close()
		return err
	}
	took := time.Since(t0)
	st, err := buf.Stats()
	if cerr := buf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if fi, err := os.Stat(*path); err == nil {
		st.FileBytes = fi.Size()
	}
	s := summary{Devices: o.Devices, Tags: len(backlog.Tags()), Cycles: cycles, PeriodMS: period.Milliseconds(),
		Updates: res.Updates, Readings: res.Readings, FirstSeq: res.FirstSeq, LastSeq: res.LastSeq,
		Start: o.Start.UTC(), First: res.First, Last: res.Last, WireBytes: st.Bytes, FileBytes: st.FileBytes,
		Seconds: took.Seconds(), LastValues: res.LastValues}
	fmt.Fprintf(os.Stderr, "gridedge-backlog: %d updates (%d readings) from %s to %s in %s; %.2f wire bytes and %.2f file bytes per reading\n",
		s.Updates, s.Readings, s.First.Format(time.RFC3339), s.Last.Format(time.RFC3339), took.Round(time.Millisecond),
		float64(s.WireBytes)/float64(s.Readings), float64(s.FileBytes)/float64(s.Readings))
	if *expect != "" {
		data, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode the summary: %w", err)
		}
		if err := os.WriteFile(*expect, data, 0o644); err != nil {
			return fmt.Errorf("write the summary: %w", err)
		}
	}
	return nil
}
