package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/version"
)

// EnvAdminPassword names the environment variable that sets the password of
// the admin user created on the hub's first start. Without it, a password
// is generated and logged once.
const EnvAdminPassword = "GRIDEDGE_ADMIN_PASSWORD"

// startAuth creates the auth service and bootstraps the admin user. It
// must run before anything else writes the system layer.
func startAuth(ctx context.Context, h *Hub) error {
	opts := h.cfg.Auth.AuthOptions()
	opts.Logger = h.log
	h.auth = auth.New(h.st, opts)
	generated, err := h.auth.Bootstrap(ctx, os.Getenv(EnvAdminPassword))
	if err != nil {
		return err
	}
	if generated != "" {
		// Printed once: the hash is all the hub keeps.
		h.log.Warn("first start: created user admin with a generated password; change it with PATCH /api/v2/users/admin {password, currentPassword} (set "+
			EnvAdminPassword+" to choose it instead)", "user", auth.AdminUser, "password", generated)
	}
	return nil
}

// apiServer builds the REST API from the API's own configuration and what
// the hub provides at run time (store, auth, NATS).
func apiServer(h *Hub, log *slog.Logger) *api.Server {
	a := &api.Server{
		// REST writes announce themselves on <domain>.storage.changed.<layer>.<collection>
		Store: store.WithChanges(h.st, h.publishChange), Auth: h.auth, Version: version.String(), Logger: log,
		Config:  h.cfg.Config,
		Gateway: api.Gateway{Domain: h.cfg.Domain},
		History: h.hist,
	}
	if inc := h.cfg.Services.Incidents; inc.Enabled { // PATCH follows the incidents' state machine
		a.Incidents = api.IncidentsCollection{Layer: inc.Layer, Collection: inc.Collection}
	}
	if h.cfg.Metrics.On() {
		a.Requests = h.hubMetrics()
	}
	if h.cfg.NATS.Listen.Enabled() {
		// in-process, as the requesting client user: no TLS to the hub's
		// own client port needed
		local := h.br.LocalDialOptions()
		a.Gateway.Dial = func(ctx context.Context, opts ...nats.Option) (*nats.Conn, error) {
			nc, err := nats.Connect("", append(append([]nats.Option{}, local...), opts...)...)
			if err != nil {
				return nil, fmt.Errorf("gateway: %w", err)
			}
			return nc, nil
		}
	}
	return a
}

// Auth is the hub's authentication service (users, tokens, apps).
func (h *Hub) Auth() *auth.Service { return h.auth }
