package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// federationPeer is a hub's status of one federated peer, the document
// system/federation/<peer> (docs/federation.md).
type federationPeer struct {
	Peer          string                     `json:"peer"`
	Link          string                     `json:"link"`
	Exported      float64                    `json:"exported"`
	ExportPending float64                    `json:"export_pending"`
	Reconciled    float64                    `json:"reconciled"`
	NotSentBack   float64                    `json:"not_sent_back"`
	Applied       float64                    `json:"applied"`
	Pending       float64                    `json:"pending"`
	Looped        float64                    `json:"looped"`
	Refused       float64                    `json:"refused"`
	Failed        float64                    `json:"failed"`
	Imports       map[string]federationLayer `json:"imports"`
	LastError     string                     `json:"last_error"`
	LastErrorAt   *time.Time                 `json:"last_error_at"`
	Updated       *time.Time                 `json:"updated"`
}

// federationLayer is one imported layer of a peer.
type federationLayer struct {
	From        string     `json:"from"`
	Applied     float64    `json:"applied"`
	LastApplied *time.Time `json:"last_applied"`
	LagMillis   float64    `json:"lag_ms"`
	Origin      []string   `json:"origin,omitempty"`
}

// federationPeers reads system/federation through the REST API.
func federationPeers(ctx context.Context, c *hubClient) ([]federationPeer, error) {
	var peers []federationPeer
	err := c.call(ctx, "GET", "/system/federation", nil, &peers)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == 404 {
		return nil, fmt.Errorf("read system/federation: %w (a hub without federation peers has none)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read system/federation: %w", err)
	}
	slices.SortFunc(peers, func(a, b federationPeer) int { return strings.Compare(a.Peer, b.Peer) })
	return peers, nil
}

func runFederationLs(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "federation ls", "[--json] [--hub URL --user U --password P | --token T]")
	h := addHubFlags(fs)
	asJSON := fs.Bool("json", false, "print the hub's status documents of its peers as JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	c, err := h.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close(ctx)
	peers, err := federationPeers(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		if peers == nil {
			peers = []federationPeer{}
		}
		return writeJSON(env.Stdout, peers)
	}
	n := now()
	t := newTable(env.Stdout, "PEER", "LINK", "EXPORTED", "EXPORT PENDING", "IMPORTED", "PENDING", "DROPPED", "LAYER", "FROM", "LAG", "LAST APPLIED", "LAST ERROR")
	count := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, p := range peers {
		lastErr := "-"
		if p.LastError != "" {
			lastErr = p.LastError
			if p.LastErrorAt != nil {
				lastErr = ago(n, *p.LastErrorAt) + ": " + lastErr
			}
		}
		head := []string{p.Peer, p.Link, count(p.Exported), count(p.ExportPending), count(p.Applied), count(p.Pending),
			count(p.Looped + p.Refused + p.Failed)}
		if len(p.Imports) == 0 {
			t.row(append(head, "-", "-", "-", "-", lastErr)...)
			continue
		}
		for _, l := range slices.Sorted(func(yield func(string) bool) {
			for k := range p.Imports {
				if !yield(k) {
					return
				}
			}
		}) {
			im := p.Imports[l]
			last := "-"
			if im.LastApplied != nil {
				last = ago(n, *im.LastApplied)
			}
			lag := "-"
			if im.LastApplied != nil {
				lag = (time.Duration(im.LagMillis) * time.Millisecond).String()
			}
			t.row(append(slices.Clone(head), l, p.Peer+":"+im.From, lag, last, lastErr)...)
		}
	}
	return t.flush()
}
