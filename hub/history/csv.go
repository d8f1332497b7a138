package history

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// CSVWriter writes series as CSV rows timestamp,_id,field,value,quality,
// or, wide, one row per timestamp of a document with one column per field
// (timestamp,_id,<field>…,<field>_quality…). The long form keeps no point
// in memory; the wide form keeps the points of one document.
type CSVWriter struct {
	w      io.Writer
	wide   bool
	buf    []byte
	header bool
	// wide: the current document's fields and points
	id     string
	fields []string
	rows   map[int64][]Point
	times  []int64
}

// NewCSVWriter returns a writer; call Write for each series, then Flush.
func NewCSVWriter(w io.Writer, wide bool) *CSVWriter {
	return &CSVWriter{w: w, wide: wide, buf: make([]byte, 0, 64<<10)}
}

func appendCSV(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	return append(append(b, '"'), append([]byte(strings.ReplaceAll(s, `"`, `""`)), '"')...)
}

func appendTime(b []byte, p Point) []byte {
	return p.Time().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
}

func (c *CSVWriter) flushBuf(force bool) error {
	if len(c.buf) < 60<<10 && !force {
		return nil
	}
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// Write writes one series (long form) or collects it (wide form).
func (c *CSVWriter) Write(s Series) error {
	if c.wide {
		return c.collect(s)
	}
	if !c.header {
		c.header = true
		c.buf = append(c.buf, "timestamp,_id,field,value,quality\n"...)
	}
	prefix := append(appendCSV(nil, s.ID), ',')
	prefix = append(appendCSV(prefix, s.Field), ',')
	for p := range s.Points {
		c.buf = appendTime(c.buf, p)
		c.buf = append(c.buf, ',')
		c.buf = append(c.buf, prefix...)
		if p.Kind == KindString {
			c.buf = appendCSV(c.buf, p.S)
		} else {
			c.buf = p.AppendValue(c.buf, false)
		}
		c.buf = append(c.buf, ',')
		c.buf = strconv.AppendInt(c.buf, int64(p.Q), 10)
		c.buf = append(c.buf, '\n')
		if err := c.flushBuf(false); err != nil {
			return err
		}
	}
	return nil
}

func (c *CSVWriter) collect(s Series) error {
	if s.ID != c.id || c.rows == nil {
		if err := c.flushDoc(); err != nil {
			return err
		}
		c.id, c.fields, c.rows, c.times = s.ID, nil, map[int64][]Point{}, nil
	}
	col := len(c.fields)
	c.fields = append(c.fields, s.Field)
	for p := range s.Points {
		row, ok := c.rows[p.T]
		if !ok {
			c.times = append(c.times, p.T)
		}
		for len(row) <= col {
			row = append(row, Point{Kind: KindNull, Q: -1})
		}
		row[col] = p
		c.rows[p.T] = row
	}
	return nil
}

// flushDoc writes the collected document (wide form), with a header of
// its fields.
func (c *CSVWriter) flushDoc() error {
	if c.rows == nil {
		return nil
	}
	c.buf = append(c.buf, "timestamp,_id"...)
	for _, f := range c.fields {
		c.buf = appendCSV(append(c.buf, ','), f)
	}
	for _, f := range c.fields {
		c.buf = appendCSV(append(c.buf, ','), f+"_quality")
	}
	c.buf = append(c.buf, '\n')
	slices.Sort(c.times)
	for _, t := range c.times {
		row := c.rows[t]
		c.buf = appendTime(c.buf, Point{T: t})
		c.buf = appendCSV(append(c.buf, ','), c.id)
		for i := range c.fields {
			c.buf = append(c.buf, ',')
			if i < len(row) && row[i].Q >= 0 {
				if row[i].Kind == KindString {
					c.buf = appendCSV(c.buf, row[i].S)
				} else {
					c.buf = row[i].AppendValue(c.buf, false)
				}
			}
		}
		for i := range c.fields {
			c.buf = append(c.buf, ',')
			if i < len(row) && row[i].Q >= 0 {
				c.buf = strconv.AppendInt(c.buf, int64(row[i].Q), 10)
			}
		}
		c.buf = append(c.buf, '\n')
		if err := c.flushBuf(false); err != nil {
			return err
		}
	}
	c.rows = nil
	return nil
}

// Flush writes what is buffered.
func (c *CSVWriter) Flush() error {
	if c.wide {
		if err := c.flushDoc(); err != nil {
			return err
		}
	} else if !c.header {
		c.header = true
		c.buf = append(c.buf, "timestamp,_id,field,value,quality\n"...)
	}
	return c.flushBuf(true)
}
