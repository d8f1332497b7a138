package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// exportFlags are the parameters of gridedge export.
type exportFlags struct {
	layer, collection, id       string
	from, to, step, agg, fields string
	query, output               string
	wide                        bool
	limit                       int
	progress, noProgress        bool
	progressEvery               time.Duration
	hub                         *hubFlags
}

// runExport streams the history of a collection (or one document) from the
// hub's REST API as CSV (GET /api/v2/history/…?format=csv) into a file or
// stdout, in constant memory, with a progress line on stderr when stderr
// is a terminal.
func runExport(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "export", "--layer L --collection C [--id ID] [--from T] [--to T] [--step S --agg A] [--fields F,…] [flags] > file.csv")
	f := &exportFlags{hub: addHubFlags(fs)}
	fs.StringVar(&f.hub.hub, "url", envOr("GRIDEDGE_HUB_URL", envOr("GRIDEDGE_HUB", "http://localhost:8080")), "hub URL, same as --hub (env GRIDEDGE_HUB_URL or GRIDEDGE_HUB)")
	fs.StringVar(&f.layer, "layer", "", "layer (required)")
	fs.StringVar(&f.collection, "collection", "", "collection (required)")
	fs.StringVar(&f.id, "id", "", "one document (default: every document with history, or those --query selects)")
	fs.StringVar(&f.query, "query", "", `selector on the current documents, JSON, e.g. '{"site":"north"}'`)
	fs.StringVar(&f.from, "from", "", "start, inclusive: RFC 3339, a date (2024-05-01) or milliseconds (default: --to minus 24 hours)")
	fs.StringVar(&f.to, "to", "", "end, inclusive (default: now)")
	fs.StringVar(&f.step, "step", "", "aggregate into intervals: 1m, 15m, 1h, 1d, …")
	fs.StringVar(&f.agg, "agg", "", "aggregation of a step: avg (default), min, max, sum, count, first, last")
	fs.StringVar(&f.fields, "fields", "", "comma-separated field paths (default: every measurement)")
	fs.BoolVar(&f.wide, "wide", false, "one row per timestamp of a document, one column per field")
	fs.IntVar(&f.limit, "limit", 0, "at most this many points per series (0: all)")
	fs.StringVar(&f.output, "o", "", "write to this file instead of stdout")
	fs.BoolVar(&f.progress, "progress", false, "show progress on stderr even when it is not a terminal")
	fs.BoolVar(&f.noProgress, "no-progress", false, "never show progress")
	f.progressEvery = 250 * time.Millisecond
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.layer == "" || f.collection == "" {
		fmt.Fprintln(env.Stderr, "--layer and --collection are required")
		fs.Usage()
		return errUsage
	}
	if f.query != "" && !json.Valid([]byte(f.query)) {
		return fmt.Errorf("--query %q is not JSON", f.query)
	}
	c, err := f.hub.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close(context.WithoutCancel(ctx))
	out := env.Stdout
	var file *os.File
	if f.output != "" {
		if file, err = os.Create(f.output); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		out = file
	}
	showProgress := !f.noProgress && (f.progress || isTerminal(env.Stderr))
	st, err := export(ctx, c, f, out, env.Stderr, showProgress)
	if file != nil {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("export: write %s: %w", f.output, cerr)
		}
	}
	if err != nil {
		return err
	}
	if showProgress {
		what := "rows"
		if f.wide {
			what = "lines"
		}
		fmt.Fprintf(env.Stderr, "\r\033[Kexported %d %s (%s) in %v\n", st.rows, what, byteSize(st.bytes), st.took.Round(time.Millisecond))
	}
	return nil
}

// exportPath is the history route of f: …/history/{layer}/{collection}[/{id}]?format=csv&….
func (f *exportFlags) path() string {
	p := "/history/" + url.PathEscape(f.layer) + "/" + url.PathEscape(f.collection)
	if f.id != "" {
		p += "/" + url.PathEscape(f.id)
	}
	v := url.Values{"format": {"csv"}}
	for _, kv := range []struct{ k, v string }{{"from", f.from}, {"to", f.to}, {"step", f.step}, {"agg", f.agg}, {"fields", f.fields}, {"query", f.query}} {
		if kv.v != "" {
			v.Set(kv.k, kv.v)
		}
	}
	if f.wide {
		v.Set("wide", "true")
	}
	if f.limit > 0 {
		v.Set("limit", fmt.Sprint(f.limit))
	}
	return p + "?" + v.Encode()
}

// exportStats say what an export wrote.
type exportStats struct {
	rows, bytes int64
	took        time.Duration
}

// countingWriter counts the bytes and lines written through it.
type countingWriter struct {
	w           io.Writer
	bytes, rows int64
	last        byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.bytes += int64(n)
	c.rows += int64(bytes.Count(p[:n], []byte{'\n'}))
	if n > 0 {
		c.last = p[n-1]
	}
	return n, err
}

// export streams the CSV answer into out with a fixed buffer; progress
// (rows, bytes, rate) is redrawn on progress every f.progressEvery.
func export(ctx context.Context, c *hubClient, f *exportFlags, out, progress io.Writer, showProgress bool) (exportStats, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+f.path(), nil)
	if err != nil {
		return exportStats{}, fmt.Errorf("export: %w", err)
	}
	if c.id != "" {
		req.Header.Set("X-User-ID", c.id)
		req.Header.Set("X-Auth-Token", c.tok)
	}
	// no overall timeout: an export may take long; ctx ends it
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return exportStats{}, fmt.Errorf("export: GET %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var env struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &env) == nil && env.Message != "" {
			return exportStats{}, fmt.Errorf("export %s/%s: %w", f.layer, f.collection, &apiError{Status: resp.StatusCode, Message: env.Message})
		}
		return exportStats{}, fmt.Errorf("export %s/%s: the hub answered %d %s: %.200q", f.layer, f.collection, resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	cw := &countingWriter{w: out}
	buf := make([]byte, 256<<10)
	next := start.Add(f.progressEvery)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := cw.Write(buf[:n]); err != nil {
				return exportStats{}, fmt.Errorf("export: write: %w", err)
			}
		}
		if showProgress && time.Now().After(next) {
			next = time.Now().Add(f.progressEvery)
			el := time.Since(start).Seconds()
			fmt.Fprintf(progress, "\r\033[K%d rows, %s, %.0f rows/s", max(cw.rows-1, 0), byteSize(cw.bytes), float64(cw.rows)/el)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return exportStats{}, fmt.Errorf("export: the answer broke off after %d rows: %w", max(cw.rows-1, 0), rerr)
		}
	}
	if cw.bytes > 0 && cw.last != '\n' {
		return exportStats{}, fmt.Errorf("export: the answer broke off after %d rows (the last row is incomplete; see the hub's log)", max(cw.rows-1, 0))
	}
	// rows without the header line
	return exportStats{rows: max(cw.rows-1, 0), bytes: cw.bytes, took: time.Since(start)}, nil
}

// byteSize formats a byte count.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
