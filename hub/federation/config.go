// Package federation shares selected layers between deployments: each
// deployment keeps its own domain, users and store, and a hub's config names
// peers and, per direction, the layers (and collections) it exports to each
// and imports from each, optionally renamed. Nothing is shared unless listed.
//
// The exporting hub puts the changes of exported layers, with the documents'
// content, into a JetStream stream FED_OUT_<peer>; the importing hub sources
// that stream over a leaf-node link, across JetStream domains, into its own
// stream FED_IN_<peer>, and applies it in order into the renamed layers,
// which are read-only for its users. A link outage resumes where it stopped
// (JetStream sourcing). Changes carry the deployments they passed through,
// so a change is never sent back to a deployment it came from, and an
// imported layer is exported further only when a peer's export lists it.
// See docs/federation.md.
package federation

import (
	"fmt"
	"slices"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// Config is the federation section of the hub's config.
type Config struct {
	// Peers are the deployments this one shares layers with.
	Peers []Peer `json:"peers,omitempty"`
}

// Peer is one federated deployment and the policy for each direction.
type Peer struct {
	// Name is the peer's deployment domain (its config's domain), which is
	// also its JetStream domain.
	Name string `json:"name"`
	// URL, when set, makes this hub open the leaf-node link to the peer's
	// leaf-node listener (nats-leaf://host:7422 or tls://host:7422). Unset:
	// the peer opens it, authenticating with Credentials.
	URL string `json:"url,omitempty"`
	// Credentials are the user and password of the link: given to the
	// peer with URL, expected from the peer without.
	Credentials Credentials `json:"credentials"`
	// TLS verifies the peer's certificate and presents a client
	// certificate on a link opened with URL.
	TLS *TLS `json:"tls,omitempty"`
	// Export lists the layers (and collections) sent to the peer.
	Export []Grant `json:"export,omitempty"`
	// Import lists the layers (and collections) taken from the peer.
	Import []Import `json:"import,omitempty"`
	// History configures the past history of the exported layers sent
	// once to the peer (default: the last 168h).
	History *HistoryExport `json:"history,omitempty"`
}

// Credentials authenticate a leaf-node link between deployments.
type Credentials struct {
	// User is the user name.
	User string `json:"user"`
	// Password is the password (plain, or a bcrypt hash on the accepting
	// side).
	Password string `json:"password"`
}

// TLS configures the client side of a link opened with Peer.URL.
type TLS struct {
	// CAFile verifies the peer's certificate (default: the system roots).
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are a client certificate for a peer that
	// requires one.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile: see CertFile.
	KeyFile string `json:"keyFile,omitempty"`
}

// Grant names a layer and, optionally, some of its collections (empty:
// every collection).
type Grant struct {
	// Layer is the layer's id.
	Layer string `json:"layer"`
	// Collections limit the grant (empty: all).
	Collections []string `json:"collections,omitempty"`
}

// Import is a layer taken from a peer.
type Import struct {
	Grant
	// As is the local layer the peer's layer is written to (default: the
	// same name). It is read-only for local users.
	As string `json:"as,omitempty"`
}

// Local returns the local layer an import writes to.
func (i Import) Local() string {
	if i.As != "" {
		return i.As
	}
	return i.Layer
}

// allows reports whether the grant covers collection col.
func (g Grant) allows(col string) bool {
	return len(g.Collections) == 0 || slices.Contains(g.Collections, col)
}

// Enabled reports whether any peer is configured.
func (c Config) Enabled() bool { return len(c.Peers) > 0 }

// Validate checks the config of a deployment whose domain is domain;
// reserved reports layers that may be neither exported nor imported into
// (the hub's system layer). Errors name the offending key.
func (c Config) Validate(path, domain string, reserved func(string) bool) error {
	var es config.Errors
	peers := map[string]bool{}
	importedFrom := map[string]string{} // local layer → peer
	for i, p := range c.Peers {
		pp := config.Index(config.Join(path, "peers"), i)
		if err := subject.CheckToken("peer name", p.Name); err != nil {
			es.Add(config.Join(pp, "name"), "%v (it is the peer's deployment domain)", err)
		} else if p.Name == domain {
			es.Add(config.Join(pp, "name"), "peer %q is this deployment's own domain", p.Name)
		} else if peers[p.Name] {
			es.Add(config.Join(pp, "name"), "peer %q is listed twice", p.Name)
		}
		peers[p.Name] = true
		if p.Credentials.User == "" || p.Credentials.Password == "" {
			es.Add(config.Join(pp, "credentials"), "a user and a password are required")
		}
		if p.URL == "" && p.TLS != nil {
			es.Add(config.Join(pp, "tls"), "applies to a link this hub opens: set url too")
		}
		if p.History != nil && len(p.Export) == 0 {
			es.Add(config.Join(pp, "history"), "applies to the layers exported to the peer: list export too")
		}
		if len(p.Export) == 0 && len(p.Import) == 0 {
			es.Add(pp, "peer %q neither exports nor imports a layer (deny by default: list export or import)", p.Name)
		}
		checkGrant := func(gp string, g Grant) {
			if err := store.CheckName("layer", g.Layer); err != nil {
				es.Add(config.Join(gp, "layer"), "%v", err)
			} else if reserved != nil && reserved(g.Layer) {
				es.Add(config.Join(gp, "layer"), "layer %q is reserved and cannot be federated", g.Layer)
			}
			for j, col := range g.Collections {
				if err := store.CheckName("collection", col); err != nil {
					es.Add(config.Index(config.Join(gp, "collections"), j), "%v", err)
				}
			}
		}
		for j, g := range p.Export {
			checkGrant(config.Index(config.Join(pp, "export"), j), g)
		}
		for j, im := range p.Import {
			ip := config.Index(config.Join(pp, "import"), j)
			checkGrant(ip, im.Grant)
			local := im.Local()
			if im.As != "" {
				if err := store.CheckName("layer", im.As); err != nil {
					es.Add(config.Join(ip, "as"), "%v", err)
					continue
				}
				if reserved != nil && reserved(im.As) {
					es.Add(config.Join(ip, "as"), "layer %q is reserved and cannot be imported into", im.As)
				}
			}
			if from, ok := importedFrom[local]; ok {
				es.Add(ip, "layer %q is imported twice (from %q and %q): each imported layer has one source", local, from, p.Name)
			}
			importedFrom[local] = p.Name
		}
	}
	// a layer imported from a peer and exported back to it is a loop
	for i, p := range c.Peers {
		for j, g := range p.Export {
			if from, ok := importedFrom[g.Layer]; ok && from == p.Name {
				es.Add(config.Index(config.Join(config.Index(config.Join(path, "peers"), i), "export"), j),
					"layer %q is imported from peer %q and exported back to it: a loop", g.Layer, p.Name)
			}
		}
	}
	return es.Err()
}

// StreamOut is the stream of the changes exported to peer.
func StreamOut(peer string) string { return "FED_OUT_" + peer }

// StreamIn is the stream of the changes imported from peer.
func StreamIn(peer string) string { return "FED_IN_" + peer }

// sourcingSubjects are the subjects a deployment that sources stream from
// the JetStream domain exporter sends over the link (its API requests and
// flow-control replies) and receives (deliveries and API replies).
func sourcingSubjects(exporter, importer string) (sends, receives []string) {
	api := subject.JetStreamAPI(exporter)
	out := StreamOut(importer)
	sends = []string{
		api + ".STREAM.INFO." + out,
		api + ".CONSUMER.CREATE." + out,
		api + ".CONSUMER.CREATE." + out + ".>",
		api + ".CONSUMER.DELETE." + out + ".>",
		api + ".CONSUMER.INFO." + out + ".>",
		"$JS.FC.>",
	}
	receives = []string{subject.FederationDeliver(exporter, importer) + ".>", "$JSC.R.>"}
	return sends, receives
}

// peerPermissions are the subjects a peer's leaf connection to this hub
// (of domain) may send (publish) and receive (subscribe): what sourcing
// the stream exported to it needs, and, when this hub imports from it,
// what this hub's sourcing of the peer's stream needs in the other
// direction.
func peerPermissions(domain string, p Peer) (publish, subscribe []string) {
	if len(p.Export) > 0 {
		sends, receives := sourcingSubjects(domain, p.Name)
		publish, subscribe = append(publish, sends...), append(subscribe, receives...)
	}
	if len(p.Import) > 0 {
		sends, receives := sourcingSubjects(p.Name, domain)
		publish, subscribe = append(publish, receives...), append(subscribe, sends...)
	}
	slices.Sort(publish)
	slices.Sort(subscribe)
	return slices.Compact(publish), slices.Compact(subscribe)
}

// PeerUser is what the broker needs to let an accepting peer connect.
type PeerUser struct {
	// User and Password are the peer's credentials.
	User string
	// Password: see User.
	Password string
	// Publish and Subscribe are the subjects allowed to the peer.
	Publish []string
	// Subscribe: see Publish.
	Subscribe []string
}

// PeerUsers returns the leaf users of the peers that connect to this hub
// (those without a URL), limited to what is exported to each.
func (c Config) PeerUsers(domain string) []PeerUser {
	var out []PeerUser
	for _, p := range c.Peers {
		if p.URL != "" {
			continue
		}
		pub, sub := peerPermissions(domain, p)
		out = append(out, PeerUser{User: p.Credentials.User, Password: p.Credentials.Password, Publish: pub, Subscribe: sub})
	}
	return out
}

// String describes a grant for logs.
func (g Grant) String() string {
	if len(g.Collections) == 0 {
		return g.Layer
	}
	return fmt.Sprintf("%s%v", g.Layer, g.Collections)
}
