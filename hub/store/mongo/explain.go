package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/gridedge/gridedge/hub/store"
)

var _ store.Explainer = (*Store)(nil)

// Explain passes the find to the server's explain command (verbosity
// executionStats) and reads MongoDB's answer: the winning plan's stage
// (IXSCAN with its indexName, or COLLSCAN) and the executionStats totals;
// the server's whole answer is in Plan.Server. A server without explain
// (mongo-java-server) answers with an error, returned in Plan.Server as
// {"error": …} with Plan "UNKNOWN".
func (s *Store) Explain(ctx context.Context, layer, col string, opts store.FindOptions) (store.Plan, error) {
	c, err := s.collection(ctx, layer, col)
	if err != nil {
		return store.Plan{}, fmt.Errorf("store: explain: %w", err)
	}
	if err := store.CheckFind(opts); err != nil {
		return store.Plan{}, fmt.Errorf("store: explain find in %s: %w", c.Name(), err)
	}
	find := bson.D{{Key: "find", Value: c.Name()}, {Key: "filter", Value: filter(opts.Selector)}}
	if opts.Sort != nil {
		find = append(find, bson.E{Key: "sort", Value: sortDoc(opts.Sort)})
	}
	if opts.Skip > 0 {
		find = append(find, bson.E{Key: "skip", Value: int64(opts.Skip)})
	}
	if opts.Limit > 0 {
		find = append(find, bson.E{Key: "limit", Value: int64(opts.Limit)})
	}
	var raw bson.M
	err = s.db.RunCommand(ctx, bson.D{{Key: "explain", Value: find}, {Key: "verbosity", Value: "executionStats"}}).Decode(&raw)
	if err != nil {
		return store.Plan{Plan: "UNKNOWN", Backend: "mongo", Server: map[string]any{"error": err.Error()}}, nil
	}
	p := store.Plan{Plan: "UNKNOWN", Backend: "mongo", Server: toDoc(raw)}
	if qp, ok := p.Server["queryPlanner"].(map[string]any); ok {
		stage, _ := qp["winningPlan"].(map[string]any)
		for depth := 0; stage != nil && depth < 10; depth++ {
			switch stage["stage"] {
			case "IXSCAN":
				p.Plan = "IXSCAN"
				p.Index, _ = stage["indexName"].(string)
			case "COLLSCAN":
				p.Plan = "COLLSCAN"
			case "IDHACK":
				p.Plan, p.Index = "IXSCAN", "_id_"
			}
			next, _ := stage["inputStage"].(map[string]any)
			stage = next
		}
	}
	if es, ok := p.Server["executionStats"].(map[string]any); ok {
		p.KeysExamined = number(es["totalKeysExamined"])
		p.DocsExamined = number(es["totalDocsExamined"])
		p.Returned = number(es["nReturned"])
	}
	return p, nil
}

func number(v any) int {
	switch x := v.(type) {
	case int32:
		return int(x)
	case int64:
		return int(x)
	case float64:
		return int(x)
	}
	return 0
}
