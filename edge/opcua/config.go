package opcua

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/subject"
)

// Config is the agent config's opcua section: the OPC-UA servers the agent
// reads, and which document measurement each node feeds.
type Config struct {
	// Servers are the OPC-UA servers, each with its own connection.
	Servers []Server `json:"servers"`
}

// Modes of a measurement.
const (
	// ModeSubscribe makes the node a monitored item of the server's
	// subscription: the server samples it and reports changes.
	ModeSubscribe = "subscribe"
	// ModePoll reads the node every pollInterval.
	ModePoll = "poll"
)

// Deadband types of a monitored item (OPC-UA Part 4, DataChangeFilter).
const (
	// DeadbandAbsolute reports a change larger than deadband in the value's unit.
	DeadbandAbsolute = "absolute"
	// DeadbandPercent reports a change larger than deadband percent of the
	// node's EURange (the server refuses it for nodes without one).
	DeadbandPercent = "percent"
)

// Server is one OPC-UA server and the documents its nodes feed.
type Server struct {
	// Name names the server in logs and status (default: the URL's host:port).
	Name string `json:"name,omitempty"`
	// URL is the server's endpoint, opc.tcp://host:port[/path].
	URL string `json:"url"`
	// Security is the message security (default: policy None).
	Security Security `json:"security,omitempty"`
	// Identity is the user the session is activated as (default anonymous).
	Identity Identity `json:"identity,omitempty"`
	// PublishingInterval is the subscription's publishing interval
	// (default 1s): how often the server sends the changes it sampled.
	PublishingInterval config.Duration `json:"publishingInterval,omitempty"`
	// PollInterval is the period of measurements in poll mode (default 1s).
	PollInterval config.Duration `json:"pollInterval,omitempty"`
	// Mode is the default mode of the measurements: subscribe (default) or poll.
	Mode string `json:"mode,omitempty"`
	// SamplingInterval is the default sampling interval of monitored items
	// (default: the publishing interval).
	SamplingInterval *config.Duration `json:"samplingInterval,omitempty"`
	// Timeout bounds each request and the connection set-up (default 10s).
	Timeout config.Duration `json:"timeout,omitempty"`
	// ReconnectMax is the longest wait between reconnection attempts; the
	// wait doubles from 500ms up to it (default 30s).
	ReconnectMax config.Duration `json:"reconnectMax,omitempty"`
	// Documents map the server's nodes to document measurements.
	Documents []Document `json:"documents"`
}

// Security is the message security of the connection.
type Security struct {
	// Policy is None (default), Basic256Sha256, Aes128_Sha256_RsaOaep or
	// Aes256_Sha256_RsaPss.
	Policy string `json:"policy,omitempty"`
	// Mode is None, Sign or SignAndEncrypt (default SignAndEncrypt with a
	// policy other than None).
	Mode string `json:"mode,omitempty"`
	// CertFile is the agent's application instance certificate (PEM or
	// DER), required with a policy other than None; the server must trust it.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile is CertFile's RSA private key (PEM).
	KeyFile string `json:"keyFile,omitempty"`
	// TrustedCerts are server certificates (PEM or DER files) trusted as
	// they are. With a policy other than None, the server's certificate
	// must be one of them or be signed by CAFile.
	TrustedCerts []string `json:"trustedCerts,omitempty"`
	// CAFile holds CA certificates (PEM) that sign trusted server certificates.
	CAFile string `json:"caFile,omitempty"`
}

// Identity is the user of the session.
type Identity struct {
	// Type is anonymous (default), username or certificate.
	Type string `json:"type,omitempty"`
	// Username is the user name of type username.
	Username string `json:"username,omitempty"`
	// Password is Username's password.
	Password string `json:"password,omitempty"`
	// CertFile is the user certificate (PEM or DER) of type certificate.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile is the user certificate's RSA private key (PEM).
	KeyFile string `json:"keyFile,omitempty"`
}

// Identity types.
const (
	IdentityAnonymous   = "anonymous"
	IdentityUsername    = "username"
	IdentityCertificate = "certificate"
)

// Document is one hub document and the nodes that feed its measurements,
// as a Modbus slave's map feeds its document.
type Document struct {
	// Document names the hub document: layer, collection and id.
	Document settings.Document `json:"document"`
	// Measurements are the document's measurements, one node each.
	Measurements []Measurement `json:"measurements"`
}

// Measurement maps one node to one measurement of the document.
type Measurement struct {
	// Name is the measurement's name: measurements.<name> in the document.
	Name string `json:"name"`
	// NodeID is the node, e.g. "ns=2;s=Boiler.Temperature" or "ns=3;i=1001".
	NodeID string `json:"nodeId"`
	// Mode is subscribe or poll (default: the server's mode).
	Mode string `json:"mode,omitempty"`
	// SamplingInterval is how often the server samples the node in
	// subscribe mode (default: the server's samplingInterval).
	SamplingInterval *config.Duration `json:"samplingInterval,omitempty"`
	// Deadband suppresses changes smaller than this in subscribe mode
	// (numeric nodes; default 0: every change).
	Deadband float64 `json:"deadband,omitempty"`
	// DeadbandType is absolute (default) or percent.
	DeadbandType string `json:"deadbandType,omitempty"`
}

// policies are the security policies accepted, by their short names.
// Basic128Rsa15 and Basic256 are deprecated (SHA-1) and refused.
var policies = map[string]string{
	"None":                  ua.SecurityPolicyURINone,
	"Basic256Sha256":        ua.SecurityPolicyURIBasic256Sha256,
	"Aes128_Sha256_RsaOaep": ua.SecurityPolicyURIAes128Sha256RsaOaep,
	"Aes256_Sha256_RsaPss":  ua.SecurityPolicyURIAes256Sha256RsaPss,
}

var modes = map[string]ua.MessageSecurityMode{
	"None":           ua.MessageSecurityModeNone,
	"Sign":           ua.MessageSecurityModeSign,
	"SignAndEncrypt": ua.MessageSecurityModeSignAndEncrypt,
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	for i := range c.Servers {
		c.Servers[i].Defaults()
	}
}

// Defaults fills the server's unset fields.
func (s *Server) Defaults() {
	if s.Name == "" {
		if u, err := url.Parse(s.URL); err == nil && u.Host != "" {
			s.Name = u.Host
		} else {
			s.Name = s.URL
		}
	}
	if s.Security.Policy == "" {
		s.Security.Policy = "None"
	}
	if s.Security.Mode == "" {
		s.Security.Mode = "SignAndEncrypt"
		if s.Security.Policy == "None" {
			s.Security.Mode = "None"
		}
	}
	if s.Identity.Type == "" {
		s.Identity.Type = IdentityAnonymous
	}
	if s.PublishingInterval == 0 {
		s.PublishingInterval = config.Duration(time.Second)
	}
	if s.PollInterval == 0 {
		s.PollInterval = config.Duration(time.Second)
	}
	if s.Mode == "" {
		s.Mode = ModeSubscribe
	}
	if s.SamplingInterval == nil {
		d := s.PublishingInterval
		s.SamplingInterval = &d
	}
	if s.Timeout == 0 {
		s.Timeout = config.Duration(10 * time.Second)
	}
	if s.ReconnectMax == 0 {
		s.ReconnectMax = config.Duration(30 * time.Second)
	}
	for i := range s.Documents {
		for j := range s.Documents[i].Measurements {
			m := &s.Documents[i].Measurements[j]
			if m.Mode == "" {
				m.Mode = s.Mode
			}
			if m.SamplingInterval == nil {
				m.SamplingInterval = s.SamplingInterval
			}
			if m.DeadbandType == "" {
				m.DeadbandType = DeadbandAbsolute
			}
		}
	}
}

// ResolvePaths makes the server's relative file names relative to dir.
func (c *Config) ResolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		abs(&s.Security.CertFile)
		abs(&s.Security.KeyFile)
		abs(&s.Security.CAFile)
		for j := range s.Security.TrustedCerts {
			abs(&s.Security.TrustedCerts[j])
		}
		abs(&s.Identity.CertFile)
		abs(&s.Identity.KeyFile)
	}
}

// Validate reports every problem at once, with paths under "servers".
// It does not read files: a missing file is reported when connecting.
func (c *Config) Validate() error {
	var es config.Errors
	names := map[string]int{}
	docs := map[string]string{} // "<layer>/<collection>/<id>.<measurement>" → where
	for i := range c.Servers {
		s := &c.Servers[i]
		p := config.Index("servers", i)
		s.validate(&es, p)
		if j, dup := names[s.Name]; dup {
			es.Add(config.Join(p, "name"), "%q is also the name of servers[%d]", s.Name, j)
		}
		names[s.Name] = i
		for j := range s.Documents {
			d := &s.Documents[j]
			dp := config.Index(config.Join(p, "documents"), j)
			for k := range d.Measurements {
				key := d.Document.Layer + "/" + d.Document.Collection + "/" + d.Document.ID + "." + d.Measurements[k].Name
				mp := config.Index(config.Join(dp, "measurements"), k)
				if w, dup := docs[key]; dup {
					es.Add(config.Join(mp, "name"), "measurement %q of this document is also fed by %s", d.Measurements[k].Name, w)
				}
				docs[key] = mp
			}
		}
	}
	return es.Err()
}

func (s *Server) validate(es *config.Errors, p string) {
	u, err := url.Parse(s.URL)
	if err != nil || u.Scheme != "opc.tcp" || u.Host == "" {
		es.Add(config.Join(p, "url"), "%q is not an OPC-UA URL like opc.tcp://host:4840", s.URL)
	}
	sec := &s.Security
	if _, ok := policies[sec.Policy]; !ok {
		es.Add(config.Join(p, "security.policy"), "%q is not one of None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss", sec.Policy)
	}
	if _, ok := modes[sec.Mode]; !ok {
		es.Add(config.Join(p, "security.mode"), "%q is not one of None, Sign, SignAndEncrypt", sec.Mode)
	}
	if (sec.Policy == "None") != (sec.Mode == "None") {
		es.Add(config.Join(p, "security"), "policy %s goes with mode None only, and mode None with policy None only (got mode %s)", sec.Policy, sec.Mode)
	}
	if sec.Policy != "None" {
		if sec.CertFile == "" || sec.KeyFile == "" {
			es.Add(config.Join(p, "security"), "certFile and keyFile (the agent's application certificate) are required with policy %s", sec.Policy)
		}
		if len(sec.TrustedCerts) == 0 && sec.CAFile == "" {
			es.Add(config.Join(p, "security"), "trustedCerts or caFile is required with policy %s: the server's certificate must be checked", sec.Policy)
		}
	} else if sec.CertFile != "" || len(sec.TrustedCerts) > 0 || sec.CAFile != "" {
		es.Add(config.Join(p, "security"), "certificates are set but policy is None: set policy (e.g. Basic256Sha256) or remove them")
	}
	id := &s.Identity
	switch id.Type {
	case IdentityAnonymous:
	case IdentityUsername:
		if id.Username == "" {
			es.Add(config.Join(p, "identity.username"), "is required with type username")
		}
		if sec.Policy == "None" {
			es.Add(config.Join(p, "identity"), "a password would cross the network in the clear with policy None: use a security policy")
		}
	case IdentityCertificate:
		if id.CertFile == "" || id.KeyFile == "" {
			es.Add(config.Join(p, "identity"), "certFile and keyFile are required with type certificate")
		}
		if sec.Policy == "None" {
			es.Add(config.Join(p, "identity"), "a certificate identity needs a security policy other than None")
		}
	default:
		es.Add(config.Join(p, "identity.type"), "%q is not one of anonymous, username, certificate", id.Type)
	}
	if s.PublishingInterval.Std() < 10*time.Millisecond {
		es.Add(config.Join(p, "publishingInterval"), "%s is shorter than 10ms", s.PublishingInterval.Std())
	}
	if s.PollInterval.Std() < 10*time.Millisecond {
		es.Add(config.Join(p, "pollInterval"), "%s is shorter than 10ms", s.PollInterval.Std())
	}
	if s.Mode != ModeSubscribe && s.Mode != ModePoll {
		es.Add(config.Join(p, "mode"), "%q is not subscribe or poll", s.Mode)
	}
	if len(s.Documents) == 0 {
		es.Add(config.Join(p, "documents"), "at least one document with measurements is required")
	}
	for j := range s.Documents {
		d := &s.Documents[j]
		dp := config.Index(config.Join(p, "documents"), j)
		for _, f := range []struct{ n, v string }{{"layer", d.Document.Layer}, {"collection", d.Document.Collection}, {"id", d.Document.ID}} {
			if err := subject.CheckToken(f.n, f.v); err != nil {
				es.Add(config.Join(dp, "document."+f.n), "%v", err)
			}
		}
		if strings.Contains(d.Document.Layer, "_") {
			es.Add(config.Join(dp, "document.layer"), "%q must not contain '_'", d.Document.Layer)
		}
		if len(d.Measurements) == 0 {
			es.Add(config.Join(dp, "measurements"), "at least one measurement is required")
		}
		for k := range d.Measurements {
			m := &d.Measurements[k]
			mp := config.Index(config.Join(dp, "measurements"), k)
			if m.Name == "" || strings.ContainsAny(m.Name, ". $") {
				es.Add(config.Join(mp, "name"), "%q must be a name without '.', '$' or spaces", m.Name)
			}
			if _, err := ParseNodeID(m.NodeID); err != nil {
				es.Add(config.Join(mp, "nodeId"), "%q is not a node id like ns=2;s=Name or ns=3;i=1001", m.NodeID)
			}
			if m.Mode != ModeSubscribe && m.Mode != ModePoll {
				es.Add(config.Join(mp, "mode"), "%q is not subscribe or poll", m.Mode)
			}
			if m.Deadband < 0 {
				es.Add(config.Join(mp, "deadband"), "%v is negative", m.Deadband)
			}
			if m.DeadbandType != DeadbandAbsolute && m.DeadbandType != DeadbandPercent {
				es.Add(config.Join(mp, "deadbandType"), "%q is not absolute or percent", m.DeadbandType)
			}
			if m.DeadbandType == DeadbandPercent && m.Deadband > 100 {
				es.Add(config.Join(mp, "deadband"), "%v%% is more than 100%%", m.Deadband)
			}
		}
	}
}

// Measurements counts the server's measurements.
func (s *Server) Measurements() int {
	n := 0
	for i := range s.Documents {
		n += len(s.Documents[i].Measurements)
	}
	return n
}

// policyURI returns the URI of a short policy name.
func policyURI(name string) (string, error) {
	if u, ok := policies[name]; ok {
		return u, nil
	}
	return "", fmt.Errorf("security policy %q is not one of None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss", name)
}

// securityMode returns the mode of a name.
func securityMode(name string) (ua.MessageSecurityMode, error) {
	if m, ok := modes[name]; ok {
		return m, nil
	}
	return 0, fmt.Errorf("security mode %q is not one of None, Sign, SignAndEncrypt", name)
}

// ParseNodeID parses a node id in the OPC-UA string form,
// [ns=<index>;]<i|s|g|b>=<identifier>. gopcua alone would take any text
// as a string identifier, so that a typo ("x=1", "Temperature") became a
// node the server does not know; this refuses it.
func ParseNodeID(s string) (*ua.NodeID, error) {
	rest := s
	if strings.HasPrefix(rest, "ns=") {
		_, after, ok := strings.Cut(rest, ";")
		if !ok {
			return nil, fmt.Errorf("node id %q: %w: want ns=<index>;<i|s|g|b>=<identifier>", s, ErrBadNode)
		}
		rest = after
	}
	if len(rest) < 3 || rest[1] != '=' || !strings.ContainsRune("isgb", rune(rest[0])) {
		return nil, fmt.Errorf("node id %q: %w: want [ns=<index>;]<i|s|g|b>=<identifier>, e.g. ns=2;s=Boiler.Temperature", s, ErrBadNode)
	}
	id, err := ua.ParseNodeID(s)
	if err != nil {
		return nil, fmt.Errorf("node id %q: %w: %v", s, ErrBadNode, err)
	}
	return id, nil
}
