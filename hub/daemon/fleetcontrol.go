package daemon

import (
	"fmt"

	"github.com/gridedge/gridedge/hub/fleet"
)

// startFleetControl returns the REST API's fleet control on the hub's
// connection, signing with fleet.signingKey when set.
func startFleetControl(h *Hub) (*fleet.Control, error) {
	key, err := fleet.LoadSigningKey(h.cfg.Fleet.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("fleet.signingKey: %w", err)
	}
	c, err := fleet.NewControl(h.nc, h.cfg.Domain, key)
	if err != nil {
		return nil, err
	}
	if pub := c.PublicKey(); pub != "" {
		h.log.Info("fleet: map pushes and rollbacks through REST are signed with the hub's key; edges must list it in control.trustedKeys", "key", pub)
	}
	return c, nil
}
