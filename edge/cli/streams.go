package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jsm.go"
	"github.com/nats-io/jsm.go/api"
)

// Names the hub's ingest service gives its streams, consumers and headers
// (hub/ingest; the edge module cannot import the hub's packages).
const (
	ingestStreamPrefix = "INGEST_"
	ingestSharedStream = "INGEST"
	deadLetterStream   = "DEADLETTER"
	ingestConsumer     = "applier"
	headerEdge         = "GridEdge-Edge"
)

// errCodeConsumerNotFound is the JetStream API error code of a missing
// consumer (nats-server's JSConsumerNotFoundErr).
const errCodeConsumerNotFound = 10014

// streamRow is one edge's ingest backlog.
type streamRow struct {
	// Edge is the edge id ("*" for the shared INGEST stream of a hub
	// without an edge list).
	Edge string `json:"edge"`
	// Stream is the JetStream stream.
	Stream string `json:"stream"`
	// Backlog is the number of batches waiting (a work-queue stream keeps
	// only what the applier has not acknowledged).
	Backlog uint64 `json:"backlog"`
	// Bytes is their size.
	Bytes uint64 `json:"bytes"`
	// Oldest is when the oldest waiting batch arrived (zero when none).
	Oldest time.Time `json:"oldest,omitzero"`
	// AckPending counts batches delivered to the applier and not yet acknowledged.
	AckPending int `json:"ackPending"`
	// Redelivered counts batches delivered more than once.
	Redelivered int `json:"redelivered"`
	// DeadLetters counts this edge's batches in the DEADLETTER stream.
	DeadLetters uint64 `json:"deadLetters"`
}

// streamsReport is the output of hub streams.
type streamsReport struct {
	Edges []streamRow `json:"edges"`
	// DeadLetters is the DEADLETTER stream's message count (every service).
	DeadLetters uint64 `json:"deadLetters"`
	// DeadLettersScanned says how many dead letters were read to count
	// them per edge (at most --scan).
	DeadLettersScanned int `json:"deadLettersScanned"`
}

func runHubStreams(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "hub streams", "[--edge E] [--scan N] [--json]")
	c := addConnFlags(fs)
	var only listFlag
	fs.Var(&only, "edge", "only this edge (repeatable or comma-separated)")
	scan := fs.Int("scan", 10000, "read at most this many dead letters to count them per edge (0: count none)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	nc, _, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	mgr, err := jsm.New(nc, jsm.WithTimeout(*c.timeout))
	if err != nil {
		return fmt.Errorf("JetStream manager: %w", err)
	}
	names, err := mgr.StreamNames(nil)
	if err != nil {
		return fmt.Errorf("list the hub's streams: %w", err)
	}
	var rep streamsReport
	for _, name := range names {
		edge, ok := strings.CutPrefix(name, ingestStreamPrefix)
		if name == ingestSharedStream {
			edge, ok = "*", true
		}
		if !ok || (len(only) > 0 && !slices.Contains(only, edge)) {
			continue
		}
		row, err := ingestRow(mgr, name, edge)
		if err != nil {
			return err
		}
		rep.Edges = append(rep.Edges, row)
	}
	if slices.Contains(names, deadLetterStream) {
		if err := countDeadLetters(ctx, mgr, &rep, *scan, *c.timeout); err != nil {
			return err
		}
	}
	if len(only) > 0 {
		rep.Edges = slices.DeleteFunc(rep.Edges, func(r streamRow) bool { return !slices.Contains(only, r.Edge) })
	}
	if *asJSON {
		if rep.Edges == nil {
			rep.Edges = []streamRow{}
		}
		return writeJSON(env.Stdout, rep)
	}
	t := newTable(env.Stdout, "EDGE", "STREAM", "BACKLOG", "BYTES", "OLDEST", "ACK PENDING", "REDELIVERED", "DEAD LETTERS")
	n := now()
	for _, r := range rep.Edges {
		oldest := ""
		if r.Backlog > 0 {
			oldest = ago(n, r.Oldest)
		}
		t.row(r.Edge, r.Stream, strconv.FormatUint(r.Backlog, 10), strconv.FormatUint(r.Bytes, 10), oldest,
			strconv.Itoa(r.AckPending), strconv.Itoa(r.Redelivered), strconv.FormatUint(r.DeadLetters, 10))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "%s: %d message(s), %d read to count them per edge\n", deadLetterStream, rep.DeadLetters, rep.DeadLettersScanned)
	return err
}

// ingestRow reads one ingest stream's state and its applier consumer's.
func ingestRow(mgr *jsm.Manager, stream, edge string) (streamRow, error) {
	row := streamRow{Edge: edge, Stream: stream}
	s, err := mgr.LoadStream(stream)
	if err != nil {
		return row, fmt.Errorf("load stream %s: %w", stream, err)
	}
	st, err := s.State()
	if err != nil {
		return row, fmt.Errorf("state of stream %s: %w", stream, err)
	}
	row.Backlog, row.Bytes = st.Msgs, st.Bytes
	if st.Msgs > 0 {
		row.Oldest = st.FirstTime
	}
	consumer := ingestConsumer
	if edge != "*" {
		consumer += "-" + edge
	}
	cons, err := s.LoadConsumer(consumer)
	if api.IsNatsErr(err, errCodeConsumerNotFound) {
		return row, nil // the hub has not started its applier for this edge yet
	}
	if err != nil {
		return row, fmt.Errorf("load consumer %s of stream %s: %w", consumer, stream, err)
	}
	ci, err := cons.LatestState()
	if err != nil {
		return row, fmt.Errorf("state of consumer %s: %w", consumer, err)
	}
	row.AckPending, row.Redelivered = ci.NumAckPending, ci.NumRedelivered
	return row, nil
}

// countDeadLetters counts the DEADLETTER stream's messages per edge from
// their GridEdge-Edge header, reading at most scan of them.
func countDeadLetters(ctx context.Context, mgr *jsm.Manager, rep *streamsReport, scan int, timeout time.Duration) error {
	s, err := mgr.LoadStream(deadLetterStream)
	if err != nil {
		return fmt.Errorf("load stream %s: %w", deadLetterStream, err)
	}
	st, err := s.State()
	if err != nil {
		return fmt.Errorf("state of stream %s: %w", deadLetterStream, err)
	}
	rep.DeadLetters = st.Msgs
	if st.Msgs == 0 || scan == 0 {
		return nil
	}
	pager, err := s.PageContents(jsm.PagerSize(min(scan, 500)), jsm.PagerTimeout(timeout))
	if err != nil {
		return fmt.Errorf("read stream %s: %w", deadLetterStream, err)
	}
	defer pager.Close() //nolint:errcheck // an ephemeral consumer; the hub removes it when idle
	per := map[string]uint64{}
	for rep.DeadLettersScanned < scan && uint64(rep.DeadLettersScanned) < st.Msgs {
		msg, _, err := pager.NextMsg(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if rep.DeadLettersScanned == 0 {
				return fmt.Errorf("read stream %s: %w", deadLetterStream, err)
			}
			break // the end of the stream
		}
		rep.DeadLettersScanned++
		if e := msg.Header.Get(headerEdge); e != "" {
			per[e]++
		}
	}
	for i := range rep.Edges {
		rep.Edges[i].DeadLetters = per[rep.Edges[i].Edge]
		delete(per, rep.Edges[i].Edge)
	}
	// dead letters of edges without a stream of their own (a shared stream)
	for _, e := range slices.Sorted(maps.Keys(per)) {
		rep.Edges = append(rep.Edges, streamRow{Edge: e, DeadLetters: per[e]})
	}
	return nil
}
