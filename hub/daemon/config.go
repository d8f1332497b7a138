package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/bridge"
	"github.com/gridedge/gridedge/hub/broker"
	"github.com/gridedge/gridedge/hub/console"
	"github.com/gridedge/gridedge/hub/federation"
	"github.com/gridedge/gridedge/hub/forecast"
	"github.com/gridedge/gridedge/hub/history"
	"github.com/gridedge/gridedge/hub/ingest"
	"github.com/gridedge/gridedge/hub/iot"
	"github.com/gridedge/gridedge/hub/listen"
	"github.com/gridedge/gridedge/hub/metrics"
	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/mongo"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
	"github.com/gridedge/gridedge/shared/tlsconf"
)

// Config is the hub's configuration file (JSON or YAML). The REST API's
// sections (http, auth, notify, gateway) belong to hub/api, whose Config is
// embedded here: its fields sit at the top level of the file.
type Config struct {
	// Config is the REST API's configuration: http, auth, notify and gateway.
	api.Config
	// Domain names the deployment in every NATS subject (default "gridedge").
	Domain string `json:"domain,omitempty"`
	// DataDir holds the store file and the JetStream directory (default ./data/hub).
	DataDir string `json:"dataDir,omitempty"`
	// Store chooses the store backend.
	Store StoreConfig `json:"store,omitempty"`
	// NATS configures the embedded NATS server.
	NATS NATSConfig `json:"nats,omitempty"`
	// Edges are the edge agents allowed to connect, with their credentials
	// and the layers each may write.
	Edges []EdgeConfig `json:"edges,omitempty"`
	// Ingest configures the ingest applier.
	Ingest IngestConfig `json:"ingest,omitempty"`
	// Layers are created at start when they do not exist yet.
	Layers []store.Layer `json:"layers,omitempty"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `json:"logLevel,omitempty"`
	// GCPercent is the garbage collector's target, as GOGC: a collection
	// starts when the heap has grown by this percentage of the live data
	// (0: defaultGCPercent). The GOGC environment variable, when set, takes
	// precedence. See memory.go for the measurements behind the default.
	GCPercent int `json:"gcPercent,omitempty"`
	// History configures the measurement history: the embedded time-series
	// engine (default) or a remote one.
	History history.Config `json:"history,omitempty"`
	// Forecast configures the forecasting service (docs/forecast.md).
	Forecast forecast.Config `json:"forecast,omitempty"`
	// Services configures the seed's services beside the store: virtual
	// sensors and data-model converters (docs/services.md).
	Services ServicesConfig `json:"services,omitempty"`
	// Metrics configures /metrics on the HTTP port (Prometheus; see
	// docs/operations.md and docs/security.md).
	Metrics metrics.Config `json:"metrics,omitempty"`
	// IoT configures device ingestion: the IoT agent provisioning API and
	// the HTTP and MQTT bindings (docs/ingestion.md).
	IoT iot.Config `json:"iot,omitempty"`
	// Console configures the web console on the HTTP port (docs/console.md).
	Console console.Config `json:"console,omitempty"`
	// Bridges connect the store to RabbitMQ, Kafka and webhooks
	// (hub/bridge, docs/bridges.md).
	Bridges []bridge.Config `json:"bridges,omitempty"`
	// Federation shares chosen layers with other deployments
	// (docs/federation.md).
	Federation federation.Config `json:"federation,omitempty"`
}

// EdgeConfig is one edge allowed to connect: its credentials (id,
// password) and what it may write.
type EdgeConfig struct {
	broker.EdgeCredential
	// Layers lists the layers, each with the collections (empty: all of
	// them), the edge's batches may write; a batch writing elsewhere goes to
	// the dead-letter stream. Empty: every layer that is not reserved.
	Layers []ingest.LayerGrant `json:"layers,omitempty"`
	// Cluster is the NATS cluster (region) of a supercluster the edge
	// attaches to: its stream is placed there (required with
	// nats.gateway; see gateway.go).
	Cluster string `json:"cluster,omitempty"`
}

// StoreConfig chooses the store backend.
type StoreConfig struct {
	// Backend is "bolt" (default: one file in dataDir) or "mongo".
	Backend string `json:"backend,omitempty"`
	// MongoURI is the MongoDB connection string (mongo backend; default the
	// GRIDEDGE_MONGODB_URI environment variable).
	MongoURI string `json:"mongoURI,omitempty"`
	// Database is the MongoDB database (default "gridedge").
	Database string `json:"database,omitempty"`
	// MaxQueryTime caps the server-side time of every query the mongo
	// backend sends (maxTimeMS: the time left until the request's deadline,
	// at most this; default 10s), so MongoDB aborts a runaway query such as
	// a backtracking $regex. The bolt backend matches with RE2 (linear time)
	// and stops a query when its request ends.
	MaxQueryTime config.Duration `json:"maxQueryTime,omitempty"`
}

// EnvMongoURI is read when store.mongoURI is empty.
const EnvMongoURI = "GRIDEDGE_MONGODB_URI"

// NATSConfig configures the embedded NATS server.
type NATSConfig struct {
	// Listen is host:port for NATS clients (default "127.0.0.1:4222":
	// loopback only; ":4222" listens on every interface; "off" disables it:
	// in-process clients still work).
	Listen listen.Addr `json:"listen,omitempty"`
	// LeafListen is host:port for edge leaf nodes (default ":7422", since
	// edges must reach it; "off" disables it).
	LeafListen listen.Addr `json:"leafListen,omitempty"`
	// ServerName names the server (default "gridedge-hub").
	ServerName string `json:"serverName,omitempty"`
	// Users are NATS users for tools, services and the REST /gateway, with
	// the subjects each may publish and subscribe to.
	Users []broker.ClientUser `json:"users,omitempty"`
	// TLS makes the client listener require TLS with this certificate
	// (default none: plaintext, with a warning when the address is not
	// loopback); with caFile, clients must present a certificate that CA
	// signed. Replaced certificate files are picked up at the next
	// handshake.
	TLS *TLSFiles `json:"tls,omitempty"`
	// LeafTLS makes the leaf-node listener require TLS (recommended on every
	// link that leaves the host); with caFile, every edge must present a
	// client certificate that CA signed (hub.certFile and hub.keyFile of
	// the agent). Replaced certificate files are picked up at the next
	// handshake.
	LeafTLS *TLSFiles `json:"leafTLS,omitempty"`
	// RequireTLS refuses to start a client or leaf-node listener without
	// TLS.
	RequireTLS bool `json:"requireTLS,omitempty"`
	// Cluster makes the server a node of a NATS cluster of hub replicas
	// (default none: a standalone server); see cluster.go and
	// docs/scaling.md.
	Cluster *ClusterConfig `json:"cluster,omitempty"`
	// Gateway joins the cluster to the clusters of other regions (a
	// supercluster; default none); see gateway.go and docs/scaling.md.
	Gateway *GatewayConfig `json:"gateway,omitempty"`
	// External makes the hub use an operator's NATS instead of the
	// embedded server (default none); see external.go and
	// docs/scaling.md.
	External *ExternalNATSConfig `json:"external,omitempty"`
}

// DefaultServerName is nats.serverName's default.
const DefaultServerName = "gridedge-hub"

// TLSFiles names a PEM certificate, its key and optionally the CA that
// signs the certificates clients must present.
type TLSFiles = tlsconf.Files

// DefaultNATSListen is the NATS client port's listen address: loopback
// only, so a hub started without a config exposes no plaintext NATS port
// to the network.
const DefaultNATSListen listen.Addr = "127.0.0.1:4222"

// IngestConfig configures the ingest applier.
type IngestConfig struct {
	// CreateMissing creates layers and collections that edges write to and
	// that do not exist (default false: such batches go to the dead-letter
	// stream).
	CreateMissing *bool `json:"createMissing,omitempty"`
	// MaxSeqJump is the largest gap above an edge's high-water mark a batch
	// may start at (default 2^32); a batch beyond it is quarantined in the
	// dead-letter stream.
	MaxSeqJump uint64 `json:"maxSeqJump,omitempty"`
	// DuplicateWindow is the INGEST stream's de-duplication window (default 10m).
	DuplicateWindow config.Duration `json:"duplicateWindow,omitempty"`
	// Replicas is the replica count of the ingest streams and consumers
	// (default 1; 3 in a cluster of three nodes; at most the cluster's
	// size).
	Replicas int `json:"replicas,omitempty"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Domain == "" {
		c.Domain = "gridedge"
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join("data", "hub")
	}
	if c.Store.Backend == "" {
		c.Store.Backend = "bolt"
	}
	if c.Store.Backend == "mongo" && c.Store.MongoURI == "" {
		c.Store.MongoURI = os.Getenv(EnvMongoURI)
	}
	if c.Store.Database == "" {
		c.Store.Database = "gridedge"
	}
	if c.Store.MaxQueryTime == 0 {
		c.Store.MaxQueryTime = config.Duration(mongo.DefaultMaxQueryTime)
	}
	c.NATS.Listen = c.NATS.Listen.Or(DefaultNATSListen)
	c.NATS.LeafListen = c.NATS.LeafListen.Or(":7422")
	if c.NATS.ServerName == "" {
		c.NATS.ServerName = DefaultServerName
	}
	if c.Ingest.CreateMissing == nil {
		f := false
		c.Ingest.CreateMissing = &f
	}
	if c.Ingest.Replicas == 0 {
		c.Ingest.Replicas = 1
	}
	if c.Ingest.MaxSeqJump == 0 {
		c.Ingest.MaxSeqJump = ingest.DefaultMaxSeqJump
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	c.History.Defaults()
	c.Forecast.Defaults()
	if c.Services.Incidents.Replicas == 0 && c.NATS.Cluster != nil {
		// the incidents' work queue outlives a node like the ingest
		// streams (and the lease buckets: leaseReplicas)
		c.Services.Incidents.Replicas = c.Ingest.Replicas
	}
	c.Services.Defaults()
	c.Metrics.Defaults()
	c.IoT.Defaults()
	c.defaultBridges()
	c.Config.Defaults()
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var es config.Errors
	if err := subject.CheckToken("domain", c.Domain); err != nil {
		es.Add("domain", "%v", err)
	}
	seen := map[string]bool{}
	for i, e := range c.Edges {
		p := config.Index("edges", i)
		if err := subject.CheckToken("edge id", e.ID); err != nil {
			es.Add(config.Join(p, "id"), "%v", err)
		}
		if seen[e.ID] {
			es.Add(config.Join(p, "id"), "edge %q is listed twice", e.ID)
		}
		seen[e.ID] = true
		if len(e.Password) < 8 && c.NATS.External == nil { // else the external server holds it
			es.Add(config.Join(p, "password"), "must be at least 8 characters")
		}
		for j, g := range e.Layers {
			gp := config.Index(config.Join(p, "layers"), j)
			if err := store.CheckName("layer", g.Layer); err != nil {
				es.Add(config.Join(gp, "layer"), "%v", err)
			} else if api.ReservedLayer(g.Layer) {
				es.Add(config.Join(gp, "layer"), "layer %q is reserved for the hub", g.Layer)
			}
			for k, col := range g.Collections {
				if err := store.CheckName("collection", col); err != nil {
					es.Add(config.Index(config.Join(gp, "collections"), k), "%v", err)
				}
			}
		}
	}
	for i, l := range c.Layers {
		p := config.Index("layers", i)
		if err := store.CheckName("layer", l.ID); err != nil {
			es.Add(config.Join(p, "_id"), "%v", err)
		} else if api.ReservedLayer(l.ID) {
			es.Add(config.Join(p, "_id"), "layer name %q is reserved (it names an API path or the system layer)", l.ID)
		}
		for j, col := range l.Collections {
			if err := store.CheckName("collection", col.Name); err != nil {
				es.Add(config.Join(config.Index(config.Join(p, "collections"), j), "name"), "%v", err)
			}
		}
	}
	// The API's paths already start at the top of the file.
	var apiErrs config.Errors
	if err := c.Config.Validate(); errors.As(err, &apiErrs) {
		es = append(es, apiErrs...)
	} else if err != nil {
		es.Add("", "%v", err)
	}
	for _, l := range []struct {
		path string
		addr listen.Addr
	}{{"nats.listen", c.NATS.Listen}, {"nats.leafListen", c.NATS.LeafListen}} {
		if err := l.addr.Check(); err != nil {
			es.Add(l.path, "%v", err)
		}
	}
	if c.GCPercent < 0 {
		es.Add("gcPercent", "%d is negative; want a percentage of the live heap such as 50 (0: the default)", c.GCPercent)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		es.Add("logLevel", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.Store.Backend {
	case "bolt":
	case "mongo":
		if c.Store.MongoURI == "" {
			es.Add("store.mongoURI", "is required for the mongo backend (or set %s)", EnvMongoURI)
		}
	default:
		es.Add("store.backend", "%q is not bolt or mongo", c.Store.Backend)
	}
	if d := c.Store.MaxQueryTime.Std(); d < 10*time.Millisecond {
		es.Add("store.maxQueryTime", "%s is shorter than 10ms", d)
	}
	for _, t := range []struct {
		path  string
		files *TLSFiles
	}{{"nats.tls", c.NATS.TLS}, {"nats.leafTLS", c.NATS.LeafTLS}} {
		if t.files != nil && (t.files.CertFile == "" || t.files.KeyFile == "") {
			es.Add(t.path, "certFile and keyFile are both required")
		}
	}
	if c.NATS.RequireTLS {
		if c.NATS.Listen.Enabled() && c.NATS.TLS == nil {
			es.Add("nats.requireTLS", "is set but nats.tls is not: the NATS client port would listen in plaintext (set nats.tls or nats.listen: off)")
		}
		if c.NATS.LeafListen.Enabled() && c.NATS.LeafTLS == nil {
			es.Add("nats.requireTLS", "is set but nats.leafTLS is not: the leaf-node port would listen in plaintext (set nats.leafTLS or nats.leafListen: off)")
		}
	}
	if c.Ingest.Replicas < 1 {
		es.Add("ingest.replicas", "%d is not a replica count (1 or more)", c.Ingest.Replicas)
	}
	c.validateCluster(&es)
	c.History.Validate("history", &es)
	c.Forecast.Validate("forecast", &es)
	c.Services.Validate("services", &es)
	validateIoT(c, &es)
	validateBridges(c, &es)
	validateFederation(c, &es)
	c.Metrics.Validate("metrics", &es)
	c.Console.Validate("console", &es)
	return es.Err()
}

// Load reads, defaults and validates a config file ("" = defaults only).
func Load(path string) (*Config, error) {
	var c Config
	if path != "" {
		if err := config.ReadFile(path, &c); err != nil {
			return nil, err
		}
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		if path != "" {
			return nil, &fileError{path, err}
		}
		return nil, err
	}
	return &c, nil
}

type fileError struct {
	path string
	err  error
}

func (e *fileError) Error() string { return "config " + e.path + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }
