package store

import "context"

// JSONGetter is implemented by backends that can return a document as the
// JSON the REST API sends for it (dates as RFC 3339 strings, like
// encoding/json writes time.Time) without decoding it into a Document: a
// GET by id without projection then copies bytes.
type JSONGetter interface {
	// GetJSON returns document id as JSON; a missing one is ErrNotFound,
	// as from Get.
	GetJSON(ctx context.Context, layer, collection, id string) ([]byte, error)
}

// GetJSON asks s for a document as JSON, looking through decorators such
// as WithChanges (which do not change reads). ok is false when the backend
// cannot (the caller then uses Get).
func GetJSON(ctx context.Context, s Store, layer, collection, id string) (data []byte, ok bool, err error) {
	for {
		if g, is := s.(JSONGetter); is {
			data, err = g.GetJSON(ctx, layer, collection, id)
			return data, true, err
		}
		u, is := s.(interface{ Unwrap() Store })
		if !is {
			return nil, false, nil
		}
		s = u.Unwrap()
	}
}
