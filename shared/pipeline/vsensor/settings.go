package vsensor

import (
	"strings"
	"time"

	"github.com/gridedge/gridedge/shared/config"
)

// DefaultWindow is the window of a sensor that gives none (seed 3.2.5.1).
const DefaultWindow = 10 * time.Second

// Settings is the X-FLEX virtual-sensor settings document (seed 3.2.5.1).
type Settings struct {
	// XFlexPlatform holds the platform's URL and application credentials.
	// Accepted for compatibility and ignored: the edge feeds sensors from its
	// own pipeline.
	XFlexPlatform *Platform `json:"xflexplatform,omitempty"`
	// Sensors groups virtual sensors by the collection they are published in.
	Sensors []Group `json:"sensors"`
}

// Platform is the X-FLEX platform connection of the original service.
type Platform struct {
	// URL of the X-FLEX platform.
	URL string `json:"url,omitempty"`
	// AppID is the application id used to log in.
	AppID string `json:"appId,omitempty"`
	// KeyID is the application key used to log in.
	KeyID string `json:"keyId,omitempty"`
}

// Group is one element of sensors: virtual sensors published in one collection.
type Group struct {
	// Collection is where the sensors are published, as <layer>_<collection>,
	// e.g. "gridflex_loads".
	Collection string `json:"collection"`
	// VirtualSensors are the sensors; each is a document of Collection.
	VirtualSensors []Sensor `json:"virtualsensors,omitempty"`
	// VirtuaiSensors is the seed's misspelling of VirtualSensors, accepted
	// so that X-FLEX settings work unchanged; exclusive with VirtualSensors.
	VirtuaiSensors []Sensor `json:"virtuaisensors,omitempty"`
}

// List returns the group's sensors under either spelling.
func (g *Group) List() []Sensor {
	if len(g.VirtualSensors) > 0 {
		return g.VirtualSensors
	}
	return g.VirtuaiSensors
}

// Sensor is one virtual sensor.
type Sensor struct {
	// ID is the _id of the sensor's document.
	ID string `json:"id"`
	// Vars are calculated variables usable as {name} in the template and in
	// other vars: numbers and other JSON values are constants, strings may
	// hold placeholders.
	Vars map[string]any `json:"vars,omitempty"`
	// Template is the document update: an object whose strings may hold
	// placeholders (see the package documentation).
	Template map[string]any `json:"template"`
	// Poll computes the sensor every Window instead of on input updates.
	Poll bool `json:"poll,omitempty"`
	// Window is, in event mode, how recent every input must be for an
	// output; in poll mode, the poll period. Seconds or a duration string
	// (default 10s).
	Window config.Duration `json:"window,omitempty"`
}

// window returns the sensor's window with the default applied.
func (s *Sensor) window() time.Duration { return s.Window.Or(DefaultWindow) }

// splitCollection splits "<layer>_<collection>" at the first underscore.
func splitCollection(name string) (layer, collection string, ok bool) {
	layer, collection, ok = strings.Cut(name, "_")
	return layer, collection, ok && layer != "" && collection != ""
}

// Validate reports every problem of s, with the path of the offending field;
// it also compiles every template (the compiled form is discarded).
func (s *Settings) Validate() error {
	_, es := build(s)
	return es.Err()
}
