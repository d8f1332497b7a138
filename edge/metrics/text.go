// Package metrics writes the Prometheus text exposition format (version
// 0.0.4) for the agent's local metrics listener, and holds the one kind of
// instrument the agent records itself: a fixed-bucket histogram.
//
// It is hand-written on purpose: the agent binary must stay small and
// free of github.com/prometheus/ packages (see hub/e2e
// TestAgentStaysSmall), and the format is a few lines of text: per family
// a "# HELP" and a "# TYPE" line, then one line per sample,
// name{label="value",…} value. Counters and gauges come from the agent's
// existing stats at scrape time; only latencies need a histogram.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Type is a metric family's type.
type Type string

// The types the agent exposes.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// ContentType is the media type of the text format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Label is one label name and value of a sample.
type Label struct {
	Name, Value string
}

// L builds labels from name, value pairs; an odd last name gets "".
func L(pairs ...string) []Label {
	ls := make([]Label, 0, (len(pairs)+1)/2)
	for i := 0; i < len(pairs); i += 2 {
		l := Label{Name: pairs[i]}
		if i+1 < len(pairs) {
			l.Value = pairs[i+1]
		}
		ls = append(ls, l)
	}
	return ls
}

// Writer writes metric families in the text format. Write every sample of
// a family right after its Family call. Errors are sticky: check Err (or
// Flush) once at the end.
type Writer struct {
	w      *bufio.Writer
	err    error
	family string
	typ    Type
	seen   map[string]bool
	// scratch is reused for every sample line
	scratch []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriter(w), seen: map[string]bool{}}
}

// Family starts a metric family: its HELP and TYPE lines. A name must match
// [a-zA-Z_:][a-zA-Z0-9_:]* and may appear once per exposition.
func (w *Writer) Family(name, help string, typ Type) {
	if w.err != nil {
		return
	}
	if !validName(name, true) {
		w.err = fmt.Errorf("metrics: invalid metric name %q", name)
		return
	}
	if w.seen[name] {
		w.err = fmt.Errorf("metrics: family %q written twice", name)
		return
	}
	w.seen[name] = true
	w.family, w.typ = name, typ
	w.printf("# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// Sample writes one counter or gauge sample of the current family.
func (w *Writer) Sample(labels []Label, value float64) {
	if w.err != nil {
		return
	}
	if w.family == "" || w.typ == Histogram {
		w.err = fmt.Errorf("metrics: Sample outside a counter or gauge family (family %q)", w.family)
		return
	}
	w.line(w.family, labels, "", "", value)
}

// Histogram writes one histogram of the current family: a cumulative
// _bucket line per bound and +Inf, then _sum and _count.
func (w *Writer) Histogram(labels []Label, s HistogramSnapshot) {
	if w.err != nil {
		return
	}
	if w.typ != Histogram {
		w.err = fmt.Errorf("metrics: Histogram outside a histogram family (family %q)", w.family)
		return
	}
	var cum uint64
	for i, b := range s.Bounds {
		cum += s.Counts[i]
		w.line(w.family+"_bucket", labels, "le", formatFloat(b), float64(cum))
	}
	w.line(w.family+"_bucket", labels, "le", "+Inf", float64(s.Count))
	w.line(w.family+"_sum", labels, "", "", s.Sum)
	w.line(w.family+"_count", labels, "", "", float64(s.Count))
}

// Err is the first error.
func (w *Writer) Err() error { return w.err }

// Flush writes what is buffered and returns the first error.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("metrics: write exposition: %w", err)
	}
	return w.err
}

func (w *Writer) line(name string, labels []Label, extraName, extraValue string, value float64) {
	if w.err != nil {
		return
	}
	b := append(w.scratch[:0], name...)
	if len(labels) > 0 || extraName != "" {
		b = append(b, '{')
		for i, l := range labels {
			if !validName(l.Name, false) || strings.HasPrefix(l.Name, "__") {
				w.err = fmt.Errorf("metrics: invalid label name %q in %s", l.Name, name)
				return
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, l.Name...)
			b = append(b, '=', '"')
			b = appendEscaped(b, l.Value)
			b = append(b, '"')
		}
		if extraName != "" {
			if len(labels) > 0 {
				b = append(b, ',')
			}
			b = append(b, extraName...)
			b = append(b, '=', '"')
			b = append(b, extraValue...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, value)
	b = append(b, '\n')
	w.scratch = b
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("metrics: write exposition: %w", err)
	}
}

// appendEscaped appends a label value with \, " and newline escaped.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

func (w *Writer) printf(format string, args ...any) {
	if w.err != nil {
		return
	}
	if _, err := fmt.Fprintf(w.w, format, args...); err != nil {
		w.err = fmt.Errorf("metrics: write exposition: %w", err)
	}
}

// formatFloat spells a value as the format wants: +Inf, -Inf, NaN, or the
// shortest decimal that reads back the same.
func formatFloat(v float64) string { return string(appendFloat(nil, v)) }

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// validName checks a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label
// name (no colons).
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (colon && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

var (
	helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }
