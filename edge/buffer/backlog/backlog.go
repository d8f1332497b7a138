// Package backlog writes a synthetic backlog into an agent's
// store-and-forward buffer: the readings an edge would have buffered during
// an outage, backdated, so that a benchmark can replay hours of one edge's
// data without polling for hours first.
//
// The backlog goes through the buffer's own API (buffer.Append), so the
// file holds exactly what the agent writes: one update per device per
// cycle (model.MeasurementUpdate, every tag with good quality and the
// cycle's timestamp), in the shared/wire encoding, with consecutive
// sequence numbers. The devices of one cycle are staggered over the period
// as the poller staggers them. The values move like the meters of the
// end-to-end scale benchmark (hub/e2e scaleTags): voltages, currents and
// powers follow slow sine waves with a little noise, counters and energies
// only rise, and every value is rounded to what its register can hold, so
// that the history engine compresses them as it would real readings.
package backlog

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/shared/model"
)

// Tag is one measurement of a generated device.
type Tag struct {
	// Name is the measurement's name (measurements.<Name>).
	Name string
	// idx is the tag's place in Tags, which shifts its waves.
	idx int
	// kind picks the waveform.
	kind kind
	// base and amp are the level and the swing of a wave (or the start
	// and the increase per second of a counter).
	base, amp float64
	// res is the register's resolution (its scale factor); 0 for a 32-bit
	// float, which keeps float32 precision.
	res float64
}

type kind int

const (
	wave    kind = iota // base + amp·sin, plus noise
	counter             // rises by amp per second
	polls               // the cycle number, as the simulator's pollCount
)

// Tags returns the 30 tags of every generated device: the three-phase
// meter of the end-to-end scale benchmark.
func Tags() []Tag {
	tags := []Tag{{Name: "pollCount", kind: polls, res: 1}}
	for _, ph := range []string{"L1", "L2", "L3"} {
		tags = append(tags,
			Tag{Name: "voltage" + ph, kind: wave, base: 230, amp: 3},
			Tag{Name: "current" + ph, kind: wave, base: 6.5, amp: 1.5},
			Tag{Name: "activePower" + ph, kind: wave, base: 1500, amp: 500, res: 0.1},
			Tag{Name: "reactivePower" + ph, kind: wave, base: 300, amp: 100, res: 0.1})
	}
	tags = append(tags,
		Tag{Name: "apparentPower", kind: wave, base: 4600, amp: 1500},
		Tag{Name: "totalActivePower", kind: wave, base: 4500, amp: 1500},
		Tag{Name: "demand", kind: wave, base: 4400, amp: 800},
		Tag{Name: "importEnergy", kind: counter, base: 125000, amp: 1.25, res: 0.01},
		Tag{Name: "exportEnergy", kind: counter, base: 800, amp: 0.02, res: 0.01},
		Tag{Name: "runHours", kind: counter, base: 8000, amp: 1.0 / 3600, res: 0.1},
		Tag{Name: "reactiveEnergy", kind: counter, base: 30000, amp: 0.25, res: 0.01})
	for _, ph := range []string{"12", "23", "31"} {
		tags = append(tags,
			Tag{Name: "lineVoltage" + ph, kind: wave, base: 400, amp: 5, res: 0.1},
			Tag{Name: "thd" + ph, kind: wave, base: 3, amp: 1, res: 0.1})
	}
	tags = append(tags,
		Tag{Name: "frequency", kind: wave, base: 50, amp: 0.05, res: 0.01},
		Tag{Name: "temperature", kind: wave, base: 35, amp: 5, res: 0.1},
		Tag{Name: "powerFactor", kind: wave, base: 0.95, amp: 0.03, res: 0.01},
		Tag{Name: "neutralCurrent", kind: wave, base: 0.5, amp: 0.3, res: 0.01})
	for i := range tags {
		tags[i].idx = i
	}
	return tags
}

// Value is the tag's reading of device (1-based) at cycle (0-based), the
// same number every time it is asked: a benchmark checks what the hub
// stored against it.
func (t Tag) Value(device, cycle int) float64 {
	tagIndex := t.idx
	var x float64
	switch t.kind {
	case polls:
		return float64(cycle + 1)
	case counter:
		x = t.base + float64(device) + t.amp*float64(cycle)
	default:
		// a slow daily-like swing and a faster one, different per device
		// and tag, plus noise of about a thousandth of the swing
		s := float64(cycle)
		phase := float64(device*7+tagIndex*13) * 0.1
		slow := math.Sin(2*math.Pi*s/(3600*(4+float64(tagIndex%5))) + phase)
		fast := math.Sin(2*math.Pi*s/float64(60+7*tagIndex+device%11) + phase)
		x = t.base + t.amp*(0.8*slow+0.2*fast) + t.amp*0.002*noise(device, tagIndex, cycle)
	}
	if t.res == 0 {
		return float64(float32(x))
	}
	return math.Round(x/t.res) * t.res
}

// noise is a deterministic pseudo-random number in [-1, 1).
func noise(device, tag, cycle int) float64 {
	h := uint64(device)*0x9E3779B97F4A7C15 ^ uint64(tag)*0xC2B2AE3D27D4EB4F ^ uint64(cycle)*0x165667B19E3779F9
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	return float64(h>>11)/float64(1<<52) - 1
}

// Options describe a backlog.
type Options struct {
	// Layer and Collection of the devices' documents (default site and
	// devices).
	Layer, Collection string
	// Devices is the number of devices, documents D1 … D<Devices>.
	Devices int
	// Start is the time of the first cycle.
	Start time.Time
	// Cycles is the number of poll cycles.
	Cycles int
	// Period is the poll period (default 1 s).
	Period time.Duration
	// CyclesPerAppend is how many cycles go into one buffer.Append, one
	// transaction (default 10).
	CyclesPerAppend int
	// Progress, when set, is called after each append with the cycles
	// written so far.
	Progress func(cycles int)
}

// Result describes a written backlog.
type Result struct {
	// Updates and Readings written (Readings = Updates × tags).
	Updates, Readings uint64
	// FirstSeq and LastSeq are the buffer sequence numbers of the first
	// and the last update written.
	FirstSeq, LastSeq uint64
	// First and Last are the timestamps of the first and the last reading.
	First, Last time.Time
	// LastValues holds the last value of every tag of every device (by document id).
	LastValues map[string]map[string]float64
}

// Timestamp is when device (1-based) is read in cycle: the cycle's start
// plus the device's place in the period (the poller spreads the devices
// over it), to the millisecond.
func (o *Options) Timestamp(device, cycle int) time.Time {
	off := (o.Period * time.Duration(device-1) / time.Duration(o.Devices)).Truncate(time.Millisecond)
	return o.Start.Add(time.Duration(cycle)*o.Period + off).UTC()
}

func (o *Options) defaults() error {
	if o.Layer == "" {
		o.Layer = "site"
	}
	if o.Collection == "" {
		o.Collection = "devices"
	}
	if o.Period <= 0 {
		o.Period = time.Second
	}
	if o.CyclesPerAppend <= 0 {
		o.CyclesPerAppend = 10
	}
	var errs []error
	if o.Devices <= 0 {
		errs = append(errs, fmt.Errorf("devices %d: want at least 1", o.Devices))
	}
	if o.Cycles <= 0 {
		errs = append(errs, fmt.Errorf("cycles %d: want at least 1", o.Cycles))
	}
	if o.Start.IsZero() {
		errs = append(errs, errors.New("start time is missing"))
	}
	if o.Period%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("period %v: want whole milliseconds", o.Period))
	}
	return errors.Join(errs...)
}

// Write appends the backlog to buf and returns what it wrote.
func Write(buf *buffer.Buffer, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, fmt.Errorf("backlog: %w", err)
	}
	tags := Tags()
	ids := make([]string, o.Devices)
	for d := range ids {
		ids[d] = fmt.Sprintf("D%d", d+1)
	}
	var r Result
	updates := make([]model.Update, 0, o.Devices*o.CyclesPerAppend)
	for c0 := 0; c0 < o.Cycles; c0 += o.CyclesPerAppend {
		updates = updates[:0]
		for c := c0; c < min(o.Cycles, c0+o.CyclesPerAppend); c++ {
			for d := 1; d <= o.Devices; d++ {
				ts := o.Timestamp(d, c)
				ms := make(map[string]model.Measurement, len(tags))
				for _, t := range tags {
					ms[t.Name] = model.Measurement{Value: t.Value(d, c), Quality: model.QualityGood, Timestamp: ts}
				}
				updates = append(updates, model.MeasurementUpdate(o.Layer, o.Collection, ids[d-1], ts, ms))
			}
		}
		first, err := buf.Append(updates...)
		if err != nil {
			return r, fmt.Errorf("backlog: append cycles %d-%d: %w", c0, c0+len(updates)/o.Devices-1, err)
		}
		if r.FirstSeq == 0 {
			r.FirstSeq = first
		}
		r.LastSeq = first + uint64(len(updates)) - 1
		r.Updates += uint64(len(updates))
		if o.Progress != nil {
			o.Progress(min(o.Cycles, c0+o.CyclesPerAppend))
		}
	}
	r.Readings = r.Updates * uint64(len(tags))
	r.First, r.Last = o.Timestamp(1, 0), o.Timestamp(o.Devices, o.Cycles-1)
	r.LastValues = make(map[string]map[string]float64, o.Devices)
	for d := 1; d <= o.Devices; d++ {
		last := make(map[string]float64, len(tags))
		for _, t := range tags {
			last[t.Name] = t.Value(d, o.Cycles-1)
		}
		r.LastValues[ids[d-1]] = last
	}
	return r, nil
}
