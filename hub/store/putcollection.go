package store

import (
	"context"
	"errors"
	"fmt"
)

// PutCollection makes sure st has collection col in layer: it creates the
// layer (as model says: its id is set to layer) when there is none, appends
// col to the layer's collections when missing, and keeps the layer's other
// collections and settings. Services call it at start for the collections
// they write (system/edges, incidents/items, converters/transformations…).
func PutCollection(ctx context.Context, st Store, layer, col string, model Layer) error {
	l, err := st.Layer(ctx, layer)
	switch {
	case errors.Is(err, ErrNotFound):
		model.ID = layer
		l = &model
	case err != nil:
		return fmt.Errorf("read layer %q: %w", layer, err)
	case l.Collection(col) != nil:
		return nil
	}
	l.Collections = append(l.Collections, Collection{Name: col})
	if err := st.PutLayer(ctx, *l); err != nil {
		return fmt.Errorf("create collection %s/%s: %w", layer, col, err)
	}
	return nil
}
