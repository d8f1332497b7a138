package api

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/query"
)

// historyPrefix starts the paths of the history routes.
const historyPrefix = "/history/"

// historyParams are the query parameters of the history routes.
var historyParams = []param{
	{name: "fields", typ: "string", desc: "Comma-separated field paths (default: every field with history, i.e. every measurement)", example: "measurements.voltage,measurements.current"},
	{name: "from", typ: "date-time", desc: "Start, inclusive (RFC 3339, a date, or milliseconds since 1970; default: to minus 24 hours)", example: "2024-05-01T00:00:00Z"},
	{name: "to", typ: "date-time", desc: "End, inclusive (default: now)", example: "2024-05-02T00:00:00Z"},
	{name: "step", typ: "string", desc: "Aggregate into step-aligned intervals, each reported at its start (e.g. 1m, 15m, 1h, 1d)", example: "15m"},
	{name: "agg", typ: "string", enum: []string{"avg", "min", "max", "sum", "count", "first", "last"}, desc: "Aggregation of a step", def: "avg"},
	{name: "limit", typ: "integer", desc: "Maximum points per series (0: no limit)"},
	{name: "format", typ: "string", enum: []string{"json", "csv"}, desc: "json (the envelope) or csv (streamed: timestamp,_id,field,value,quality)", def: "json"},
	{name: "wide", typ: "boolean", desc: "With format=csv: one row per timestamp of a document, one column per field"},
}

// historyFor checks the caller may read the collection's history and
// builds the query.
func (s *Server) historyQuery(r *http.Request, p *auth.Principal) (*target, history.Query, error) {
	if s.History == nil {
		return nil, history.Query{}, httpErrorf(http.StatusNotFound, "this hub keeps no history")
	}
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Public)
	if err != nil {
		return nil, history.Query{}, err
	}
	q, err := history.QueryFromValues(t.layer, t.col, r.URL.Query(), time.Now())
	if err != nil {
		return nil, q, historyError(err)
	}
	if err := t.checkFields("fields", q.Fields); err != nil {
		return nil, q, err
	}
	return t, q, nil
}

func historyError(err error) error {
	if errors.Is(err, history.ErrInvalid) {
		return httpErrorf(http.StatusBadRequest, "%v", err)
	}
	return err
}

// historyOne serves GET /history/{layer}/{collection}/{id}.
func (s *Server) historyOne(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, q, err := s.historyQuery(r, p)
	if err != nil {
		return err
	}
	q.IDs = []string{r.PathValue("id")}
	return s.writeHistory(w, r, t, q)
}

// historyMany serves GET /history/{layer}/{collection}: the documents
// matching query (a selector on the current documents), or every document
// with history.
func (s *Server) historyMany(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, q, err := s.historyQuery(r, p)
	if err != nil {
		return err
	}
	sel, err := selectorParam(r.URL.Query(), t)
	if err != nil {
		return err
	}
	if sel != nil {
		proj, err := query.ParseProjection(map[string]any{store.FieldID: 1})
		if err != nil {
			return err
		}
		docs, err := s.Store.Find(r.Context(), t.layer, t.col, store.FindOptions{Selector: sel, Projection: proj})
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			return s.writeHistory(w, r, t, history.Query{}) // nothing matches
		}
		for _, d := range docs {
			if id, ok := d[store.FieldID].(string); ok {
				q.IDs = append(q.IDs, id)
			}
		}
	}
	return s.writeHistory(w, r, t, q)
}

// writeHistory streams the series of q as JSON ({status, data: [{_id,
// field, points}]}) or CSV; fields outside the public attributes are left
// out for callers limited to them. A zero q answers no series.
func (s *Server) writeHistory(w http.ResponseWriter, r *http.Request, t *target, q history.Query) error {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		return httpErrorf(http.StatusBadRequest, "format=%q: want json or csv", format)
	}
	visible := func(field string) bool { return !t.publicOnly || auth.FieldAllowed(t.public, field) }
	bw := bufio.NewWriterSize(w, 64<<10)
	started := false
	var werr error
	if format == "csv" {
		cw := history.NewCSVWriter(bw, r.URL.Query().Get("wide") == "true")
		if q.Layer != "" {
			werr = s.History.Select(r.Context(), q, func(se history.Series) error {
				if !visible(se.Field) {
					return nil
				}
				if !started {
					started = true
					w.Header().Set("Content-Type", "text/csv; charset=utf-8")
					w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", t.layer+"_"+t.col+".csv"))
				}
				return cw.Write(se)
			})
		}
		if werr == nil {
			if !started {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			}
			started = true
			if werr = cw.Flush(); werr == nil {
				werr = bw.Flush()
			}
		}
	} else {
		jw := history.NewJSONWriter(bw)
		if q.Layer != "" {
			werr = s.History.Select(r.Context(), q, func(se history.Series) error {
				if !visible(se.Field) {
					return nil
				}
				if !started {
					started = true
					w.Header().Set("Content-Type", "application/json; charset=utf-8")
				}
				return jw.Write(se)
			})
		}
		if werr == nil {
			if !started {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
			}
			started = true
			if werr = jw.Close(); werr == nil {
				werr = bw.Flush()
			}
		}
	}
	if werr != nil && !started {
		return historyError(werr)
	}
	if werr != nil {
		// the status is sent: the truncated body tells the client
		s.log().Warn("history response cut short", "layer", t.layer, "collection", t.col, "err", werr)
	}
	return nil
}

// historyImport serves POST /history/{layer}/{collection}/{id}: {field:
// [[timestamp, value, quality?], …]}; identical points already stored
// change nothing.
func (s *Server) historyImport(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if s.History == nil {
		return httpErrorf(http.StatusNotFound, "this hub keeps no history")
	}
	t, err := s.collectionFor(r.Context(), p, r.PathValue("layer"), r.PathValue("collection"), auth.Write)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var body map[string][][]any
	if err := readJSON(r, &body); err != nil {
		return err
	}
	var samples []history.Sample
	for field, pts := range body {
		if field == "" || strings.HasPrefix(field, "_") {
			return httpErrorf(http.StatusBadRequest, "field %q: history fields are dotted paths such as measurements.voltage", field)
		}
		for i, pt := range pts {
			if len(pt) < 2 || len(pt) > 3 {
				return httpErrorf(http.StatusBadRequest, "%s[%d]: want [timestamp, value, quality?]", field, i)
			}
			var ts time.Time
			switch v := pt[0].(type) {
			case string:
				ts, err = history.ParseTime(fmt.Sprintf("%s[%d] timestamp", field, i), v)
			case float64:
				ts = time.UnixMilli(int64(v)).UTC()
			default:
				err = fmt.Errorf("%s[%d]: the timestamp is RFC 3339 or milliseconds", field, i)
			}
			if err != nil {
				return httpErrorf(http.StatusBadRequest, "%v", err)
			}
			q := 1
			if len(pt) == 3 {
				f, ok := pt[2].(float64)
				if !ok {
					return httpErrorf(http.StatusBadRequest, "%s[%d]: quality must be a number", field, i)
				}
				q = int(f)
			}
			switch pt[1].(type) {
			case nil, bool, float64, string:
			default:
				return httpErrorf(http.StatusBadRequest, "%s[%d]: the value must be a number, bool, string or null", field, i)
			}
			samples = append(samples, history.Sample{Layer: t.layer, Collection: t.col, ID: id, Field: field, T: ts, Value: pt[1], Quality: q})
		}
	}
	res, err := s.History.Append(r.Context(), samples)
	if err != nil {
		return historyError(err)
	}
	msg := "History imported"
	if res.Refused > 0 {
		msg = fmt.Sprintf("History imported; %d points refused (first: %s)", res.Refused, res.FirstRefusal)
	}
	return success(w, msg, map[string]int{"written": res.Written, "unchanged": res.Unchanged, "refused": res.Refused})
}
