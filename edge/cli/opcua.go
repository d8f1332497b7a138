package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gridedge/gridedge/edge/opcua"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/logging"
	"github.com/gridedge/gridedge/shared/model"
)

// opcuaFlags are the connection flags of the opcua commands; they fill the
// same opcua.Server an agent config's opcua section does.
type opcuaFlags struct {
	fs        *flag.FlagSet
	url       *string
	policy    *string
	mode      *string
	cert      *string
	key       *string
	trust     listFlag
	ca        *string
	user      *string
	password  *string
	userCert  *string
	userKey   *string
	timeout   *time.Duration
	level     *string
	asJSON    *bool
	synopsis  string
	tempFiles string // a directory of generated files, removed by cleanup
}

func newOPCUAFlags(env Env, name, synopsis string) *opcuaFlags {
	fs := newFlags(env, name, synopsis)
	f := &opcuaFlags{
		fs:       fs,
		synopsis: synopsis,
		url:      fs.String("url", "", "server endpoint (required), opc.tcp://host:4840[/path]"),
		policy:   fs.String("policy", "None", "security policy: None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss"),
		mode:     fs.String("mode", "", "security mode: Sign or SignAndEncrypt (default SignAndEncrypt with a policy, None without)"),
		cert:     fs.String("cert", "", "this client's application certificate (PEM or DER; default with a policy: a new self-signed one for this session)"),
		key:      fs.String("key", "", "the private key of --cert (PEM)"),
		ca:       fs.String("ca", "", "PEM CA certificates that sign trusted server certificates"),
		user:     fs.String("user", "", "user name (identity username; the password comes from --password or $OPCUA_PASSWORD)"),
		password: fs.String("password", "", "password of --user (default $OPCUA_PASSWORD)"),
		userCert: fs.String("user-cert", "", "user certificate (identity certificate)"),
		userKey:  fs.String("user-key", "", "the private key of --user-cert (PEM)"),
		timeout:  fs.Duration("timeout", 10*time.Second, "time to connect and for each request"),
		level:    fs.String("log-level", "warn", "debug, info, warn or error"),
		asJSON:   fs.Bool("json", false, "print JSON"),
	}
	fs.Var(&f.trust, "trust", "trusted server certificate file (repeatable); with a policy, --trust or --ca is required")
	return f
}

// usageError prints msg and the usage, and returns errUsage.
func (f *opcuaFlags) usageError(format string, args ...any) error {
	fmt.Fprintf(f.fs.Output(), "%s: %s\n", f.fs.Name(), fmt.Sprintf(format, args...))
	f.fs.Usage()
	return errUsage
}

// server builds and checks the server the flags describe, as an agent
// config's opcua section would be checked.
func (f *opcuaFlags) server(env Env) (*opcua.Server, error) {
	if *f.url == "" {
		return nil, f.usageError("missing --url")
	}
	s := &opcua.Server{URL: *f.url, Timeout: config.Duration(*f.timeout),
		Security: opcua.Security{Policy: *f.policy, Mode: *f.mode, CertFile: *f.cert, KeyFile: *f.key, TrustedCerts: f.trust, CAFile: *f.ca},
		// Validate wants a measurement; the commands name their nodes themselves
		Documents: []opcua.Document{{Document: settings.Document{Layer: "cli", Collection: "opcua", ID: "x"},
			Measurements: []opcua.Measurement{{Name: "x", NodeID: "i=85"}}}}}
	switch {
	case *f.user != "":
		pw := *f.password
		if pw == "" {
			pw = os.Getenv("OPCUA_PASSWORD")
		}
		s.Identity = opcua.Identity{Type: opcua.IdentityUsername, Username: *f.user, Password: pw}
	case *f.userCert != "":
		s.Identity = opcua.Identity{Type: opcua.IdentityCertificate, CertFile: *f.userCert, KeyFile: *f.userKey}
	}
	if s.Security.Policy != "None" && s.Security.CertFile == "" && s.Security.KeyFile == "" {
		// a session certificate: fine for commissioning against a server
		// that accepts new clients (or once its admin trusted it)
		dir, err := os.MkdirTemp("", "gridedge-opcua-")
		if err != nil {
			return nil, fmt.Errorf("session certificate: %w", err)
		}
		f.tempFiles = dir
		der, _, key, err := opcua.NewCert(opcua.CertOptions{CommonName: "gridedge CLI", ApplicationURI: "urn:gridedge:cli"})
		if err != nil {
			return nil, err
		}
		s.Security.CertFile, s.Security.KeyFile = filepath.Join(dir, "cli.der"), filepath.Join(dir, "cli.pem")
		if err := os.WriteFile(s.Security.CertFile, der, 0o600); err != nil {
			return nil, fmt.Errorf("session certificate: %w", err)
		}
		if err := os.WriteFile(s.Security.KeyFile, opcua.PEMKey(key), 0o600); err != nil {
			return nil, fmt.Errorf("session certificate: %w", err)
		}
	}
	s.Defaults()
	if err := (&opcua.Config{Servers: []opcua.Server{*s}}).Validate(); err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			msgs := make([]string, len(es))
			for i, e := range es {
				msgs[i] = e.Msg
			}
			return nil, f.usageError("%s", strings.Join(msgs, "; "))
		}
		return nil, f.usageError("%v", err)
	}
	return s, nil
}

func (f *opcuaFlags) cleanup() {
	if f.tempFiles != "" {
		_ = os.RemoveAll(f.tempFiles)
	}
}

// connect parses args, runs check (the command's own arguments), then
// connects.
func (f *opcuaFlags) connect(ctx context.Context, env Env, args []string, check func() error) (*opcua.Conn, error) {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if err := check(); err != nil {
		return nil, err
	}
	s, err := f.server(env)
	if err != nil {
		return nil, err
	}
	lvl, err := logging.ParseLevel(*f.level)
	if err != nil {
		return nil, f.usageError("--log-level: %v", err)
	}
	return opcua.Connect(ctx, s, logging.New(env.Stderr, lvl, false))
}

func runOPCUABrowse(ctx context.Context, env Env, args []string) error {
	f := newOPCUAFlags(env, "opcua browse", "--url URL [--node ID] [--depth N] [security and identity flags] [--json]")
	defer f.cleanup()
	node := f.fs.String("node", "i=85", "node to browse from (default the Objects folder)")
	depth := f.fs.Int("depth", 1, "levels below --node to list")
	cn, err := f.connect(ctx, env, args, func() error {
		if f.fs.NArg() > 0 {
			return f.usageError("unexpected argument %q", f.fs.Arg(0))
		}
		if *depth < 1 {
			return f.usageError("--depth %d must be at least 1", *depth)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer cn.Close()
	var refs []opcua.Ref
	err = cn.Browse(ctx, *node, *depth, func(r opcua.Ref) error {
		if *f.asJSON {
			refs = append(refs, r)
			return nil
		}
		_, err := fmt.Fprintf(env.Stdout, "%s%-40s %-10s %s\n", strings.Repeat("  ", r.Depth-1), r.NodeID, r.Class, r.BrowseName)
		return err
	})
	if err != nil {
		return err
	}
	if *f.asJSON {
		return printJSON(env, map[string]any{"nodes": refs})
	}
	return nil
}

// readResult is one node's value as `gridedge opcua read --json` prints it.
type readResult struct {
	NodeID string `json:"nodeId"`
	model.Measurement
	Status string `json:"status"`
}

func runOPCUARead(ctx context.Context, env Env, args []string) error {
	f := newOPCUAFlags(env, "opcua read", "--url URL [security and identity flags] [--json] NODE_ID...")
	defer f.cleanup()
	cn, err := f.connect(ctx, env, args, func() error {
		if f.fs.NArg() == 0 {
			return f.usageError("name at least one node id, e.g. ns=2;s=Boiler.Temperature")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer cn.Close()
	nodes := f.fs.Args()
	dvs, err := cn.Read(ctx, nodes...)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]readResult, len(dvs))
	for i, dv := range dvs {
		out[i] = readResult{NodeID: nodes[i], Measurement: opcua.MeasurementOf(dv, nil, now), Status: dv.Status.Error()}
		if dv.Status == 0 {
			out[i].Status = "Good"
		}
	}
	if *f.asJSON {
		return printJSON(env, map[string]any{"values": out})
	}
	for _, r := range out {
		fmt.Fprintf(env.Stdout, "%s = %v (quality %d, %s, %s)\n", r.NodeID, textOf(r.Value), r.Quality, r.Status, r.Timestamp.Format(time.RFC3339Nano))
	}
	return nil
}

func runOPCUAWrite(ctx context.Context, env Env, args []string) error {
	f := newOPCUAFlags(env, "opcua write", "--url URL [security and identity flags] NODE_ID VALUE")
	defer f.cleanup()
	cn, err := f.connect(ctx, env, args, func() error {
		if f.fs.NArg() != 2 {
			return f.usageError("want a node id and a value (an array as comma-separated elements), got %d arguments", f.fs.NArg())
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer cn.Close()
	v, err := cn.Write(ctx, f.fs.Arg(0), f.fs.Arg(1))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s = %v (%s)\n", f.fs.Arg(0), textOf(opcua.Value(v.Value())), strings.TrimPrefix(v.Type().String(), "TypeID"))
	return nil
}

// textOf formats a measurement value for a terminal.
func textOf(v any) string {
	switch t := v.(type) {
	case time.Time:
		return t.Format(time.RFC3339Nano)
	case string:
		return fmt.Sprintf("%q", t)
	case []any, map[string]any:
		b, err := json.Marshal(t)
		if err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

func printJSON(env Env, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = fmt.Fprintln(env.Stdout, string(b))
	return err
}
