package store

// Clone returns a deep copy of l: the caller may change it (append
// collections, edit Config or Extra) without touching l. Backends that
// keep decoded layers in memory hand out clones.
func (l *Layer) Clone() *Layer {
	if l == nil {
		return nil
	}
	c := *l
	if l.Collections != nil {
		c.Collections = make([]Collection, len(l.Collections))
		for i, col := range l.Collections {
			c.Collections[i] = col.clone()
		}
	}
	c.Config = cloneObject(l.Config)
	return &c
}

func (c Collection) clone() Collection {
	out := c
	if c.Metrics != nil {
		out.Metrics = append([]string(nil), c.Metrics...)
	}
	if c.Indexes != nil {
		out.Indexes = make([]Index, len(c.Indexes))
		for i, ix := range c.Indexes {
			out.Indexes[i] = ix
			if ix.Fields != nil {
				out.Indexes[i].Fields = append(IndexFields(nil), ix.Fields...)
			}
		}
	}
	out.Extra = cloneObject(c.Extra)
	return out
}

// cloneObject deep-copies a decoded JSON object.
func cloneObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

// cloneValue deep-copies the maps and slices of a decoded JSON value;
// other values (strings, numbers, booleans, times) are immutable.
func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneObject(x)
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}
