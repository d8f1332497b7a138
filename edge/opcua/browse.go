package opcua

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// Ref is one node found by Browse.
type Ref struct {
	// NodeID is the node's id, as a config's nodeId takes it.
	NodeID string `json:"nodeId"`
	// BrowseName is the node's browse name, "ns:name".
	BrowseName string `json:"browseName"`
	// DisplayName is the node's display name.
	DisplayName string `json:"displayName"`
	// Class is the node class: Object, Variable, Method, ...
	Class string `json:"class"`
	// Depth is the node's distance from the start node (1: a child).
	Depth int `json:"depth"`
}

// Browse walks the hierarchical references forward from root down to
// depth levels and calls fn for each node found, parents before children.
// A node reached twice is reported once.
func (cn *Conn) Browse(ctx context.Context, root string, depth int, fn func(Ref) error) error {
	start, err := ParseNodeID(root)
	if err != nil {
		return err
	}
	seen := map[string]bool{start.String(): true}
	var walk func(n *ua.NodeID, level int) error
	walk = func(n *ua.NodeID, level int) error {
		refs, err := cn.c.Node(n).References(ctx, id.HierarchicalReferences, ua.BrowseDirectionForward, ua.NodeClassAll, true)
		if err != nil {
			return fmt.Errorf("browse %s: %w", n, err)
		}
		for _, r := range refs {
			if r.NodeID == nil || r.NodeID.NodeID == nil {
				continue
			}
			child := r.NodeID.NodeID
			key := child.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			ref := Ref{NodeID: key, Class: strings.TrimPrefix(r.NodeClass.String(), "NodeClass"), Depth: level}
			if r.BrowseName != nil {
				ref.BrowseName = fmt.Sprintf("%d:%s", r.BrowseName.NamespaceIndex, r.BrowseName.Name)
			}
			if r.DisplayName != nil {
				ref.DisplayName = r.DisplayName.Text
			}
			if err := fn(ref); err != nil {
				return err
			}
			if level < depth {
				if err := walk(child, level+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(start, 1)
}

// Read reads the values of nodes (source and server timestamps).
func (cn *Conn) Read(ctx context.Context, nodes ...string) ([]*ua.DataValue, error) {
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, n := range nodes {
		nid, err := ParseNodeID(n)
		if err != nil {
			return nil, err
		}
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: nid, AttributeID: ua.AttributeIDValue})
	}
	res, err := cn.c.Read(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("read %d nodes: %w", len(nodes), err)
	}
	if len(res.Results) != len(nodes) {
		return nil, fmt.Errorf("read %d nodes: %d results", len(nodes), len(res.Results))
	}
	return res.Results, nil
}

// Write writes text to node as a value of the node's current type: it
// reads the node first and parses text as that type (numbers, Boolean,
// String, DateTime in RFC 3339, LocalizedText; arrays as comma-separated
// elements). It returns the variant written.
func (cn *Conn) Write(ctx context.Context, node, text string) (*ua.Variant, error) {
	nid, err := ParseNodeID(node)
	if err != nil {
		return nil, err
	}
	cur, err := cn.Read(ctx, node)
	if err != nil {
		return nil, err
	}
	if cur[0].Status != ua.StatusOK || cur[0].Value == nil {
		return nil, fmt.Errorf("read %s before writing: %w: %v", node, ErrBadNode, cur[0].Status)
	}
	v, err := ParseAs(cur[0].Value, text)
	if err != nil {
		return nil, fmt.Errorf("value for %s: %w", node, err)
	}
	res, err := cn.c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
		NodeID: nid, AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: v},
	}}})
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", node, err)
	}
	if len(res.Results) != 1 || res.Results[0] != ua.StatusOK {
		var st ua.StatusCode = ua.StatusBad
		if len(res.Results) == 1 {
			st = res.Results[0]
		}
		return nil, fmt.Errorf("write %s: %w: %v", node, ErrBadNode, st)
	}
	return v, nil
}

// ParseAs parses text as a value of like's type (and array-ness).
func ParseAs(like *ua.Variant, text string) (*ua.Variant, error) {
	if like.ArrayLength() > 0 || isSlice(like.Value()) {
		parts := strings.Split(text, ",")
		vals := make([]any, len(parts))
		for i, p := range parts {
			v, err := parseScalar(like.Type(), strings.TrimSpace(p))
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			vals[i] = v
		}
		return typedArray(like.Type(), vals)
	}
	v, err := parseScalar(like.Type(), text)
	if err != nil {
		return nil, err
	}
	return ua.NewVariant(v)
}

func isSlice(v any) bool {
	switch v.(type) {
	case []bool, []int8, []uint8, []int16, []uint16, []int32, []uint32, []int64, []uint64, []float32, []float64, []string,
		[]time.Time, []*ua.LocalizedText:
		return true
	}
	return false
}

// parseScalar parses text as a value of OPC-UA built-in type t.
func parseScalar(t ua.TypeID, text string) (any, error) {
	bad := func(err error) error { return fmt.Errorf("%q is not a %s: %w", text, t, err) }
	switch t {
	case ua.TypeIDBoolean:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, bad(err)
		}
		return b, nil
	case ua.TypeIDSByte, ua.TypeIDInt16, ua.TypeIDInt32, ua.TypeIDInt64:
		bits := map[ua.TypeID]int{ua.TypeIDSByte: 8, ua.TypeIDInt16: 16, ua.TypeIDInt32: 32, ua.TypeIDInt64: 64}[t]
		n, err := strconv.ParseInt(text, 10, bits)
		if err != nil {
			return nil, bad(err)
		}
		switch t {
		case ua.TypeIDSByte:
			return int8(n), nil
		case ua.TypeIDInt16:
			return int16(n), nil
		case ua.TypeIDInt32:
			return int32(n), nil
		}
		return n, nil
	case ua.TypeIDByte, ua.TypeIDUint16, ua.TypeIDUint32, ua.TypeIDUint64:
		bits := map[ua.TypeID]int{ua.TypeIDByte: 8, ua.TypeIDUint16: 16, ua.TypeIDUint32: 32, ua.TypeIDUint64: 64}[t]
		n, err := strconv.ParseUint(text, 10, bits)
		if err != nil {
			return nil, bad(err)
		}
		switch t {
		case ua.TypeIDByte:
			return uint8(n), nil
		case ua.TypeIDUint16:
			return uint16(n), nil
		case ua.TypeIDUint32:
			return uint32(n), nil
		}
		return n, nil
	case ua.TypeIDFloat:
		f, err := strconv.ParseFloat(text, 32)
		if err != nil {
			return nil, bad(err)
		}
		return float32(f), nil
	case ua.TypeIDDouble:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) {
			return nil, bad(err)
		}
		return f, nil
	case ua.TypeIDString:
		return text, nil
	case ua.TypeIDDateTime:
		ts, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return nil, bad(err)
		}
		return ts.UTC(), nil
	case ua.TypeIDLocalizedText:
		return &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: text}, nil
	}
	return nil, fmt.Errorf("writing a %s is not supported", t)
}

// typedArray makes a variant of a typed slice of vals.
func typedArray(t ua.TypeID, vals []any) (*ua.Variant, error) {
	var out any
	switch t {
	case ua.TypeIDBoolean:
		out = convertSlice[bool](vals)
	case ua.TypeIDSByte:
		out = convertSlice[int8](vals)
	case ua.TypeIDByte:
		out = convertSlice[uint8](vals)
	case ua.TypeIDInt16:
		out = convertSlice[int16](vals)
	case ua.TypeIDUint16:
		out = convertSlice[uint16](vals)
	case ua.TypeIDInt32:
		out = convertSlice[int32](vals)
	case ua.TypeIDUint32:
		out = convertSlice[uint32](vals)
	case ua.TypeIDInt64:
		out = convertSlice[int64](vals)
	case ua.TypeIDUint64:
		out = convertSlice[uint64](vals)
	case ua.TypeIDFloat:
		out = convertSlice[float32](vals)
	case ua.TypeIDDouble:
		out = convertSlice[float64](vals)
	case ua.TypeIDString:
		out = convertSlice[string](vals)
	case ua.TypeIDDateTime:
		out = convertSlice[time.Time](vals)
	case ua.TypeIDLocalizedText:
		out = convertSlice[*ua.LocalizedText](vals)
	default:
		return nil, fmt.Errorf("writing an array of %s is not supported", t)
	}
	return ua.NewVariant(out)
}

func convertSlice[T any](vals []any) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = v.(T)
	}
	return out
}
