package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// Outcomes of a push on one edge, the rows of the summary.
const (
	outcomeApplied    = "applied"     // applied, confirmed or already running
	outcomeDryRun     = "dry_run"     // validated and read, nothing applied
	outcomeRolledBack = "rolled_back" // applied, failed its first cycles, previous map restored
	outcomeOffline    = "offline"     // no answer
	outcomeRefused    = "refused"     // the edge said no (validation, signature, busy, ...)
	outcomeFailed     = "failed"      // anything else (a malformed answer, a local error)
)

// pushResult is what happened on one edge.
type pushResult struct {
	// Edge is the edge id.
	Edge string `json:"edge"`
	// Outcome is one of the outcome* constants.
	Outcome string `json:"outcome"`
	// Reply is the edge's answer, when it answered.
	Reply *control.PushReply `json:"reply,omitempty"`
	// Error says why the outcome is not applied.
	Error string `json:"error,omitempty"`
}

// pushSummary counts the outcomes.
type pushSummary struct {
	Applied    int `json:"applied"`
	DryRun     int `json:"dryRun"`
	RolledBack int `json:"rolledBack"`
	Offline    int `json:"offline"`
	Refused    int `json:"refused"`
	Failed     int `json:"failed"`
}

func (s *pushSummary) add(outcome string) {
	switch outcome {
	case outcomeApplied:
		s.Applied++
	case outcomeDryRun:
		s.DryRun++
	case outcomeRolledBack:
		s.RolledBack++
	case outcomeOffline:
		s.Offline++
	case outcomeRefused:
		s.Refused++
	default:
		s.Failed++
	}
}

func (s pushSummary) ok() int { return s.Applied + s.DryRun }

func (s pushSummary) String() string {
	parts := []string{fmt.Sprintf("%d applied", s.Applied)}
	if s.DryRun > 0 {
		parts = []string{fmt.Sprintf("%d dry-run", s.DryRun)}
	}
	parts = append(parts, fmt.Sprintf("%d rolled back", s.RolledBack), fmt.Sprintf("%d offline", s.Offline), fmt.Sprintf("%d refused", s.Refused))
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
	}
	return strings.Join(parts, ", ")
}

// progress draws "pushing sha256:… : 7/12 [#####.....] 5 applied, …" on a
// terminal, redrawn in place; elsewhere it prints nothing.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	label string
	total int
	done  int
	sum   pushSummary
}

func (p *progress) step(outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.sum.add(outcome)
	if !p.on {
		return
	}
	const width = 30
	filled := p.done * width / max(p.total, 1)
	fmt.Fprintf(p.w, "\r%s %d/%d [%s%s] %s", p.label, p.done, p.total,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.sum)
	if p.done == p.total {
		fmt.Fprintln(p.w)
	}
}

func runMapPush(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "map push", "(--edge E[,E…] | --all | --select LABEL=V) [--dry-run] [--confirm] [--partial] [--key SEEDFILE] FILE")
	c := addConnFlags(fs)
	var edges, sel listFlag
	fs.Var(&edges, "edge", "edge to push to (repeatable or comma-separated)")
	all := fs.Bool("all", false, "push to every edge the hub knows")
	fs.Var(&sel, "select", "push to the edges with this label or field value, LABEL=VALUE (repeatable, all must hold)")
	dryRun := fs.Bool("dry-run", false, "validate on each edge and read each new or changed variable once; apply nothing")
	confirm := fs.Bool("confirm", false, "wait on each edge until the new map passed its first poll cycles (or was rolled back)")
	partial := fs.Bool("partial", false, "FILE holds only the maps and slaves that change; the edge merges it into the map it runs")
	key := fs.String("key", "", "operator nkey seed file that signs the push (env GRIDEDGE_KEY, or the context's key)")
	pusher := fs.String("pusher", defaultPusher(), "who pushes, recorded by the edges (env GRIDEDGE_PUSHER)")
	parallel := fs.Int("parallel", 8, "edges pushed to at once")
	asJSON := fs.Bool("json", false, `print {"version","results":[{edge,outcome,reply,error}],"summary"}`)
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	modes := 0
	for _, b := range []bool{len(edges) > 0, *all, len(sel) > 0} {
		if b {
			modes++
		}
	}
	if modes != 1 || *parallel < 1 {
		if *parallel < 1 {
			fmt.Fprintln(env.Stderr, "gridedge map push: --parallel must be at least 1")
		} else {
			fmt.Fprintln(env.Stderr, "gridedge map push: give exactly one of --edge, --all and --select")
		}
		fs.Usage()
		return errUsage
	}
	sels, err := parseSelectors(sel)
	if err != nil {
		return err
	}
	// a map the agent would refuse is not sent at all
	m, err := readMap(pos[0], *partial)
	if err != nil {
		return err
	}
	conn, err := c.resolve()
	if err != nil {
		return err
	}
	kp, err := loadSigningKey(env, firstNonEmpty(*key, conn.Key))
	if err != nil {
		return err
	}
	nc, err := conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()

	// targets; edges the hub already knows to be offline are not asked
	var results []pushResult
	targets := slices.Compact(slices.Sorted(slices.Values(edges))) // an edge named twice is pushed to once
	if len(targets) == 0 {
		list, err := fleetList(ctx, nc, conn, c)
		if err != nil {
			return err
		}
		for _, e := range list {
			switch {
			case !matches(e, sels):
			case e.State == control.StateOffline:
				results = append(results, pushResult{Edge: e.Edge, Outcome: outcomeOffline, Error: "offline since " + e.LastSeen.Format(time.RFC3339)})
			default:
				targets = append(targets, e.Edge)
			}
		}
		if len(targets)+len(results) == 0 {
			return errors.New("no edge matches: nothing pushed (see gridedge fleet ls)")
		}
	}
	for _, e := range targets {
		if err := subject.CheckToken("edge id", e); err != nil {
			return err
		}
	}
	timeout := *c.timeout
	if *confirm && timeout < 45*time.Second {
		// the agent confirms after its first cycles, at most control.confirmTimeout (30s) later
		timeout = 45 * time.Second
	}
	verb := "pushing"
	if *dryRun {
		verb = "dry-running"
	}
	p := &progress{w: env.Stderr, on: isTerminal(env.Stderr) && !*asJSON, total: len(targets) + len(results),
		label: fmt.Sprintf("%s %s to %d edge(s)", verb, m.Version, len(targets)+len(results))}
	for _, r := range results {
		p.step(r.Outcome)
	}
	out := make([]pushResult, len(targets))
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i, e := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = pushOne(ctx, nc, conn.Domain, e, m, kp, control.PushRequest{
				Partial: *partial, DryRun: *dryRun, Confirm: *confirm, Pusher: *pusher}, timeout)
			p.step(out[i].Outcome)
		}()
	}
	wg.Wait()
	results = append(results, out...)
	slices.SortFunc(results, func(a, b pushResult) int { return strings.Compare(a.Edge, b.Edge) })
	var sum pushSummary
	for _, r := range results {
		sum.add(r.Outcome)
	}
	if *asJSON {
		if err := writeJSON(env.Stdout, struct {
			Version string       `json:"version"`
			Results []pushResult `json:"results"`
			Summary pushSummary  `json:"summary"`
		}{m.Version, results, sum}); err != nil {
			return err
		}
	} else if err := printPushResults(env.Stdout, results, sum); err != nil {
		return err
	}
	switch {
	case sum.ok() == len(results):
		return nil
	case sum.ok() == 0:
		return fmt.Errorf("push %s to %d edge(s): %s", m.Version, len(results), sum)
	default:
		return fmt.Errorf("push %s to %d edge(s): %s: %w", m.Version, len(results), sum, errPartial)
	}
}

// pushOne signs and sends the push to one edge and classifies the answer.
func pushOne(ctx context.Context, nc *nats.Conn, domain, edge string, m *mapFile, kp nkeys.KeyPair, req control.PushRequest, timeout time.Duration) pushResult {
	res := pushResult{Edge: edge}
	req.Edge, req.Settings, req.IssuedAt = edge, m.JSON, now()
	if err := control.Sign(kp, &req); err != nil {
		res.Outcome, res.Error = outcomeFailed, err.Error()
		return res
	}
	var reply control.PushReply
	err := edgeRequest(ctx, nc, domain, edge, subject.ActionMapPush, req, &reply, timeout)
	if reply.Edge != "" || reply.Result != "" {
		res.Reply = &reply
	}
	var re *control.Error
	switch {
	case errors.Is(err, errOffline):
		res.Outcome, res.Error = outcomeOffline, err.Error()
	case errors.As(err, &re):
		res.Outcome, res.Error = outcomeRefused, re.Error()
		if len(re.Details) > 0 {
			res.Error += ": " + strings.Join(re.Details, "; ")
		}
	case err != nil:
		res.Outcome, res.Error = outcomeFailed, err.Error()
	default:
		switch reply.Result {
		case control.ResultApplied, control.ResultConfirmed, control.ResultUnchanged:
			res.Outcome = outcomeApplied
		case control.ResultDryRun:
			res.Outcome = outcomeDryRun
		case control.ResultRolledBack:
			res.Outcome = outcomeRolledBack
			if reply.RolledBack != nil {
				res.Error = reply.RolledBack.Reason
			}
		case control.ResultRefused:
			res.Outcome, res.Error = outcomeRefused, "refused without a reason"
		default:
			res.Outcome, res.Error = outcomeFailed, fmt.Sprintf("unknown result %q", reply.Result)
		}
	}
	return res
}

// printPushResults prints the summary table, dry-run readings, and totals.
func printPushResults(w io.Writer, results []pushResult, sum pushSummary) error {
	t := newTable(w, "EDGE", "OUTCOME", "RESULT", "VERSION", "PREVIOUS", "CHANGES", "DETAIL")
	for _, r := range results {
		var result, version, previous, changes string
		if rp := r.Reply; rp != nil {
			result, version, previous = rp.Result, rp.Version, rp.Previous
			if ch := rp.Changes; ch != nil {
				changes = fmt.Sprintf("+%d -%d ~%d =%d", len(ch.Added), len(ch.Removed), len(ch.Changed), ch.Kept)
			}
		}
		t.row(r.Edge, r.Outcome, result, version, previous, changes, r.Error)
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Reply == nil || len(r.Reply.DryRun) == 0 {
			continue
		}
		fmt.Fprintf(w, "\ndry run on %s:\n", r.Edge)
		t := newTable(w, "SLAVE", "VARIABLE", "VALUE", "ERROR")
		for _, rd := range r.Reply.DryRun {
			val := ""
			if rd.Error == "" {
				val = formatValue(rd.Value)
			}
			t.row(rd.Slave, rd.Variable, val, rd.Error)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%d edge(s): %s\n", len(results), sum)
	return err
}
