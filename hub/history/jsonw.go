package history

import (
	"encoding/json"
	"io"
)

// JSONWriter streams series in the API's envelope:
// {"status":"success","data":[{"_id","field","points":[[t,v,q],…]},…]}.
// It keeps no point in memory.
type JSONWriter struct {
	w   io.Writer
	buf []byte
	n   int
}

// NewJSONWriter returns a writer; call Write for each series, then Close.
func NewJSONWriter(w io.Writer) *JSONWriter {
	return &JSONWriter{w: w, buf: make([]byte, 0, 64<<10)}
}

func (j *JSONWriter) open() {
	if j.n == 0 {
		j.buf = append(j.buf, `{"status":"success","data":[`...)
	}
}

func (j *JSONWriter) flush(force bool) error {
	if len(j.buf) < 60<<10 && !force {
		return nil
	}
	_, err := j.w.Write(j.buf)
	j.buf = j.buf[:0]
	return err
}

// Write writes one series.
func (j *JSONWriter) Write(s Series) error {
	j.open()
	if j.n++; j.n > 1 {
		j.buf = append(j.buf, ',')
	}
	head, err := json.Marshal(struct {
		ID    string `json:"_id"`
		Field string `json:"field"`
	}{s.ID, s.Field})
	if err != nil {
		return err
	}
	j.buf = append(j.buf, head[:len(head)-1]...)
	j.buf = append(j.buf, `,"points":[`...)
	i := 0
	for p := range s.Points {
		if i++; i > 1 {
			j.buf = append(j.buf, ',')
		}
		b, err := p.MarshalJSON()
		if err != nil {
			return err
		}
		j.buf = append(j.buf, b...)
		if err := j.flush(false); err != nil {
			return err
		}
	}
	j.buf = append(j.buf, "]}"...)
	return j.flush(false)
}

// Close ends the envelope and writes what is buffered.
func (j *JSONWriter) Close() error {
	if j.n == 0 {
		j.buf = append(j.buf, `{"status":"success","data":[`...)
		j.n = -1
	}
	j.buf = append(j.buf, "]}\n"...)
	return j.flush(true)
}
