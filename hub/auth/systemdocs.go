// Store access shared by users, tokens and apps: the secret attributes,
// inserts into the system layer and the dates the backends return.

package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// Secret attributes of system documents, never returned by the API.
const (
	fieldPasswordHash = "passwordHash"
	fieldKeyHash      = "keyHash"
)

// SecretFields lists the attributes of system documents that must never
// leave the hub.
var SecretFields = []string{fieldPasswordHash, fieldKeyHash, fieldPasswordDigest, fieldPasswordDigestOf}

// insertOne inserts one system document, mapping a duplicate to ErrExists.
func (s *Service) insertOne(ctx context.Context, col string, doc store.Document) error {
	id, _ := doc["_id"].(string)
	res, err := s.st.Insert(ctx, SystemLayer, col, []store.Document{doc})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %q", ErrExists, id)
		}
		return err
	}
	if res.OK == 1 {
		return nil
	}
	if _, gerr := s.st.Get(ctx, SystemLayer, col, id); gerr == nil {
		return fmt.Errorf("%w: %q", ErrExists, id)
	}
	if len(res.Errors) > 0 {
		return errors.New(res.Errors[0])
	}
	return errors.New("not inserted")
}

// asTime reads a date as the backends return it (time.Time), or as
// RFC 3339 text or Extended JSON {"$date": …}.
func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		return t, err == nil
	case map[string]any:
		return asTime(x["$date"])
	}
	return time.Time{}, false
}
