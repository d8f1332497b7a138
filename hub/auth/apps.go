// Application credentials: documents of system/apps, _id = appId, with a
// SHA-256 hash of the keyId.

package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// App is an application credential as the API shows it (no key hash).
type App struct {
	// ID is the appId.
	ID string `json:"_id"`
	// Name says what the app is.
	Name string `json:"name"`
	// Grants maps layer ids (and "fs:<bucket>") to permissions.
	Grants map[string]Perm `json:"grants"`
	// Created is when the app was added.
	Created time.Time `json:"createdAt"`
	// CreatedBy is the admin who added it.
	CreatedBy string `json:"createdBy,omitempty"`
}

// NewApp is what AddApp needs.
type NewApp struct {
	// Name says what the app is.
	Name string `json:"name"`
	// Grants are the app's permissions. Apps are never admins.
	Grants map[string]Perm `json:"grants,omitempty"`
}

// AppKey is a new application credential: the only time keyId is shown.
type AppKey struct {
	// AppID is the appId (X-User-ID).
	AppID string `json:"appId"`
	// KeyID is the secret (X-Auth-Token).
	KeyID string `json:"keyId"`
	// App describes the app.
	App *App `json:"app"`
}

// AddApp creates an application credential; by is the admin's name.
func (s *Service) AddApp(ctx context.Context, a NewApp, by string) (*AppKey, error) {
	if err := CheckGrants(a.Grants); err != nil {
		return nil, err
	}
	if a.Name == "" {
		return nil, fmt.Errorf("%w: an app needs a name", ErrInvalid)
	}
	id, key := randomID(), randomString(32)
	doc := store.Document{"_id": id, "name": a.Name, fieldKeyHash: hashSecret(key),
		"grants": grantsDoc(a.Grants), "createdAt": s.opts.Now().UTC(), "createdBy": by}
	if err := s.insertOne(ctx, AppsCollection, doc); err != nil {
		return nil, fmt.Errorf("auth: add app: %w", err)
	}
	return &AppKey{AppID: id, KeyID: key, App: appFromDoc(doc)}, nil
}

// Apps lists the application credentials.
func (s *Service) Apps(ctx context.Context) ([]App, error) {
	docs, err := s.st.Find(ctx, SystemLayer, AppsCollection, store.FindOptions{})
	if err != nil {
		return nil, fmt.Errorf("auth: list apps: %w", err)
	}
	out := make([]App, 0, len(docs))
	for _, d := range docs {
		out = append(out, *appFromDoc(d))
	}
	return out, nil
}

// DeleteApp revokes an application credential.
func (s *Service) DeleteApp(ctx context.Context, id string) error {
	err := s.st.DeleteByID(ctx, SystemLayer, AppsCollection, id)
	s.cache.drop(KindApp, id, "")
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: app %q", ErrNotFound, id)
		}
		return fmt.Errorf("auth: delete app %q: %w", id, err)
	}
	return nil
}

func appFromDoc(d store.Document) *App {
	a := &App{Grants: grantsFromDoc(d["grants"])}
	a.ID, _ = d["_id"].(string)
	a.Name, _ = d["name"].(string)
	a.CreatedBy, _ = d["createdBy"].(string)
	a.Created, _ = asTime(d["createdAt"])
	return a
}
