package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// fleetList asks the hub for every edge it knows.
func fleetList(ctx context.Context, nc *nats.Conn, conn natsContext, c *connFlags) ([]control.EdgeSummary, error) {
	var reply control.FleetListReply
	if err := hubRequest(ctx, nc, subject.FleetList(conn.Domain), nil, &reply, *c.timeout); err != nil {
		return nil, fmt.Errorf("list the fleet: %w", err)
	}
	return reply.Edges, nil
}

// flatten turns a JSON value into dotted keys and string values:
// {"labels":{"site":"north"}} gives "labels.site" = "north".
func flatten(prefix string, v any, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, x, out)
		}
	case nil:
	case string:
		out[prefix] = v
	case float64:
		out[prefix] = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		out[prefix] = fmt.Sprint(v)
	}
}

// formatLabels prints labels as k=v,k=v sorted by key.
func formatLabels(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// selector is one --select LABEL=V condition.
type selector struct{ key, value string }

// parseSelectors parses "k=v" conditions, all of which must hold.
func parseSelectors(list []string) ([]selector, error) {
	var out []selector
	for _, s := range list {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--select %q: want LABEL=VALUE", s)
		}
		out = append(out, selector{k, v})
	}
	return out, nil
}

// matches reports whether every selector holds for e: a selector names an
// edge label ("site", also spelled "labels.site") or a field of the fleet
// summary ("state", "version", "mapVersion").
func matches(e control.EdgeSummary, sels []selector) bool {
	b, err := json.Marshal(e)
	if err != nil {
		return false
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return false
	}
	fields := map[string]string{}
	flatten("", tree, fields)
	for _, s := range sels {
		v, ok := fields["labels."+s.key]
		if !ok {
			v, ok = fields[s.key]
		}
		if !ok || v != s.value {
			return false
		}
	}
	return true
}

// listFlag collects a repeatable flag; each value may also be a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func runFleetLs(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "fleet ls", "[--select LABEL=V] [--json]")
	c := addConnFlags(fs)
	var sel listFlag
	fs.Var(&sel, "select", "only edges with this label or field value, LABEL=VALUE (repeatable, all must hold)")
	asJSON := fs.Bool("json", false, "print the hub's edge summaries as JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	sels, err := parseSelectors(sel)
	if err != nil {
		return err
	}
	nc, conn, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	edges, err := fleetList(ctx, nc, conn, c)
	if err != nil {
		return err
	}
	edges = slices.DeleteFunc(edges, func(e control.EdgeSummary) bool { return !matches(e, sels) })
	if *asJSON {
		if edges == nil {
			edges = []control.EdgeSummary{}
		}
		return writeJSON(env.Stdout, edges)
	}
	t := newTable(env.Stdout, "EDGE", "STATE", "VERSION", "MAP VERSION", "LAST SEEN", "BUFFER", "OLDEST UNSENT", "SLAVES UP", "LABELS")
	n := now()
	for _, e := range edges {
		oldest := ""
		if e.BufferDepth > 0 {
			oldest = age(secondsDuration(e.OldestUnsentAge))
		}
		t.row(e.Edge, e.State, e.Version, e.MapVersion, ago(n, e.LastSeen), strconv.FormatUint(e.BufferDepth, 10),
			oldest, fmt.Sprintf("%d/%d", e.SlavesUp, e.SlavesTotal), formatLabels(e.Labels))
	}
	return t.flush()
}

func runFleetStatus(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "fleet status", "[--live] [--json] EDGE")
	c := addConnFlags(fs)
	live := fs.Bool("live", false, "ask the edge itself for its status now (through the leaf link) instead of the hub's record")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args, "EDGE")
	if err != nil {
		return err
	}
	edge := pos[0]
	if err := subject.CheckToken("edge id", edge); err != nil {
		return err
	}
	nc, conn, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	if *live {
		var hb json.RawMessage
		if err := edgeRequest(ctx, nc, conn.Domain, edge, subject.ActionStatus, nil, &hb, *c.timeout); err != nil {
			return fmt.Errorf("status of edge %s: %w", edge, err)
		}
		if *asJSON {
			return writeJSON(env.Stdout, hb)
		}
		return printHeartbeat(env, hb)
	}
	var reply control.FleetStatusReply
	if err := hubRequest(ctx, nc, subject.FleetStatus(conn.Domain, edge), nil, &reply, *c.timeout); err != nil {
		return fmt.Errorf("status of edge %s: %w", edge, err)
	}
	if *asJSON {
		return writeJSON(env.Stdout, reply)
	}
	e := reply.Edge
	n := now()
	t := newTable(env.Stdout, "FIELD", "VALUE")
	t.row("edge", e.Edge)
	t.row("state", e.State)
	t.row("last seen", strings.TrimSpace(e.LastSeen.Format("2006-01-02 15:04:05Z07:00")+" ("+ago(n, e.LastSeen)+")"))
	t.row("version", e.Version)
	t.row("labels", formatLabels(e.Labels))
	t.row("uptime", age(secondsDuration(e.Uptime)))
	t.row("map version", e.MapVersion)
	t.row("map pushed by", e.MapPusher)
	t.row("buffer depth", strconv.FormatUint(e.BufferDepth, 10))
	t.row("oldest unsent", age(secondsDuration(e.OldestUnsentAge)))
	t.row("slaves up", fmt.Sprintf("%d/%d", e.SlavesUp, e.SlavesTotal))
	t.row("last error", e.LastError)
	if rb := e.RolledBack; rb != nil {
		kind := "requested"
		if rb.Automatic {
			kind = "automatic"
		}
		t.row("last rollback", fmt.Sprintf("%s %s -> %s at %s: %s", kind, rb.From, rb.To, rb.At.Format("2006-01-02 15:04:05Z07:00"), rb.Reason))
	}
	for _, k := range slices.Sorted(maps.Keys(reply.Hub)) {
		t.row("hub "+k, fmt.Sprint(reply.Hub[k]))
	}
	return t.flush()
}

// printHeartbeat prints an edge's live status: its fields, one per line.
func printHeartbeat(env Env, hb json.RawMessage) error {
	var tree any
	if err := json.Unmarshal(hb, &tree); err != nil {
		return fmt.Errorf("the edge's status is not JSON: %w", err)
	}
	fields := map[string]string{}
	// slaves are a list: print each one's own line
	if m, ok := tree.(map[string]any); ok {
		if sl, ok := m["slaves"].([]any); ok {
			for i, s := range sl {
				b, _ := json.Marshal(s)
				fields[fmt.Sprintf("slaves[%d]", i)] = string(b)
			}
			delete(m, "slaves")
		}
	}
	flatten("", tree, fields)
	t := newTable(env.Stdout, "FIELD", "VALUE")
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		t.row(k, fields[k])
	}
	return t.flush()
}
