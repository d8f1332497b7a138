package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/tlsconf"
)

// LeafPeer is another deployment's hub allowed to connect to the leaf-node
// listener (federation, docs/federation.md): a user limited to the
// subjects given, so that the peer reaches only what is exported to it.
type LeafPeer struct {
	// User and Password are the peer's credentials.
	User string
	// Password: see User (plain or a bcrypt hash).
	Password string
	// Publish lists the subjects the peer may send (its JetStream API
	// requests on the stream exported to it, flow-control replies).
	Publish []string
	// Subscribe lists the subjects the peer may receive (the delivery
	// subject of that stream, replies to its requests).
	Subscribe []string
}

// LeafRemote is a leaf-node link this hub opens to another deployment's
// leaf-node listener (federation).
type LeafRemote struct {
	// URL is the peer's leaf-node URL (nats-leaf://host:7422, tls://… for
	// TLS).
	URL string
	// User and Password are the credentials the peer gave this hub.
	User string
	// Password: see User.
	Password string
	// CAFile verifies the peer's certificate (default: the system roots).
	CAFile string
	// CertFile and KeyFile, when set, are the client certificate presented
	// to a peer that requires one.
	CertFile string
	// KeyFile: see CertFile.
	KeyFile string
}

// configureFederation sets the JetStream domain, the peers' leaf users and
// the leaf remotes of opts.
func configureFederation(opts *server.Options, o *Options) error {
	if o.JetStreamDomain != "" {
		if err := subject.CheckToken("JetStream domain", o.JetStreamDomain); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		opts.JetStreamDomain = o.JetStreamDomain
	}
	if len(o.LeafPeers) > 0 && o.LeafListen == "" {
		return errors.New("broker: federation peers connect to the leaf-node listener: set nats.leafListen")
	}
	seen := map[string]bool{}
	for _, u := range opts.Users {
		seen[u.Username] = true
	}
	for _, p := range o.LeafPeers {
		if p.User == "" || p.Password == "" {
			return errors.New("broker: a federation peer needs a user name and a password")
		}
		if seen[p.User] {
			return fmt.Errorf("broker: federation peer user %q clashes with an edge or a NATS user", p.User)
		}
		seen[p.User] = true
		pw, err := hashPassword(p.Password)
		if err != nil {
			return err
		}
		opts.Users = append(opts.Users, &server.User{
			Username: p.User, Password: pw, AllowedConnectionTypes: connectionTypes("LEAFNODE"),
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: append([]string{}, p.Publish...)},
				Subscribe: &server.SubjectPermission{Allow: append([]string{}, p.Subscribe...)},
			},
		})
	}
	for _, r := range o.LeafRemotes {
		u, err := url.Parse(r.URL)
		if err != nil || u.Host == "" {
			return fmt.Errorf("broker: federation peer URL %q is not a URL like nats-leaf://host:7422", r.URL)
		}
		if r.User != "" {
			u.User = url.UserPassword(r.User, r.Password)
		}
		// isolated both ways: neither side passes interest from its other
		// leaf-node connections (edges, other peers) over a federation link,
		// which federation never needs (peers source each other's streams
		// directly) and which would make NATS' loop detection close one link
		// of a ring of deployments (A→B→C→A)
		remote := &server.RemoteLeafOpts{URLs: []*url.URL{u}, LocalAccount: accountName, LocalIsolation: true, RequestIsolation: true}
		if u.Scheme == "tls" || r.CAFile != "" || r.CertFile != "" {
			tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
			if r.CAFile != "" {
				if tc.RootCAs, err = tlsconf.LoadPool("federation peer caFile", r.CAFile); err != nil {
					return fmt.Errorf("broker: %w", err)
				}
			}
			if r.CertFile != "" {
				cert, err := tls.LoadX509KeyPair(r.CertFile, r.KeyFile)
				if err != nil {
					return fmt.Errorf("broker: federation peer client certificate: %w", err)
				}
				tc.Certificates = []tls.Certificate{cert}
			}
			remote.TLS, remote.TLSConfig, remote.TLSTimeout = true, tc, 5
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, remote)
	}
	if len(o.LeafRemotes) > 0 {
		// a lost link is retried soon, so that an outage ends quickly
		opts.LeafNode.ReconnectInterval = time.Second
	}
	return nil
}

// LeafRemoteConnected reports whether the leaf-node link this hub opened to
// rawURL is up (matched by port, and by address when the URL names one).
func (b *Broker) LeafRemoteConnected(rawURL string) bool {
	if b.ext != nil {
		return false
	}
	want, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	lz, err := b.srv.Leafz(nil)
	if err != nil {
		return false
	}
	ip := net.ParseIP(want.Hostname())
	for _, l := range lz.Leafs {
		if !l.IsSpoke || strconv.Itoa(l.Port) != want.Port() {
			continue
		}
		if ip == nil || ip.Equal(net.ParseIP(l.IP)) {
			return true
		}
	}
	return false
}

// LeafInterest reports whether a leaf-node connection this hub accepted (a
// peer's link, or an edge's) subscribes to a subject starting with prefix:
// for federation, the delivery subject of a peer's sourcing of the stream
// exported to it, which exists while that sourcing runs over the link
// (sourcing consumers are not listed by the JetStream API).
func (b *Broker) LeafInterest(prefix string) bool {
	if b.ext != nil {
		return false
	}
	lz, err := b.srv.Leafz(&server.LeafzOptions{Subscriptions: true})
	if err != nil {
		return false
	}
	for _, l := range lz.Leafs {
		if l.IsSpoke {
			continue
		}
		for _, s := range l.Subs {
			if strings.HasPrefix(s, prefix) {
				return true
			}
		}
	}
	return false
}

// DirectDelivered returns, for each direct consumer of stream (those
// JetStream makes for another deployment sourcing it, which the JetStream
// API does not list), the last stream sequence it delivered. ok is false
// when the broker cannot tell (an external NATS, or monitoring failed).
func (b *Broker) DirectDelivered(stream string) (delivered []uint64, ok bool) {
	if b.ext != nil {
		return nil, false
	}
	jsz, err := b.srv.Jsz(&server.JSzOptions{Account: accountName, Streams: true, Consumer: true, DirectConsumer: true})
	if err != nil {
		return nil, false
	}
	for _, ad := range jsz.AccountDetails {
		for _, sd := range ad.Streams {
			if sd.Name != stream {
				continue
			}
			for _, ci := range sd.DirectConsumer {
				delivered = append(delivered, ci.Delivered.Stream)
			}
		}
	}
	return delivered, true
}
