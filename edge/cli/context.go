package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/shared/config"
)

// natsContext is a saved connection to a hub's NATS server, like a context
// of the nats CLI: $XDG_CONFIG_HOME/gridedge/contexts/NAME.json (mode 0600,
// it may hold a password); the chosen one's name is in
// $XDG_CONFIG_HOME/gridedge/context.txt.
type natsContext struct {
	// Name is the context's name (the file name, not stored in the file).
	Name string `json:"-"`
	// Description says what the context is for.
	Description string `json:"description,omitempty"`
	// URL is the hub's NATS URL (several comma-separated).
	URL string `json:"url,omitempty"`
	// Creds is a NATS credentials file.
	Creds string `json:"creds,omitempty"`
	// User and Password authenticate without a creds file.
	User string `json:"user,omitempty"`
	// Password: see User.
	Password string `json:"password,omitempty"`
	// TLSCA is the CA certificate that signed the hub's certificate.
	TLSCA string `json:"tlsCA,omitempty"`
	// TLSCert and TLSKey are a client certificate.
	TLSCert string `json:"tlsCert,omitempty"`
	// TLSKey: see TLSCert.
	TLSKey string `json:"tlsKey,omitempty"`
	// Domain is the deployment's subject domain.
	Domain string `json:"domain,omitempty"`
	// Key is the operator's nkey seed file that signs map pushes.
	Key string `json:"key,omitempty"`
}

// configDir is where the CLI keeps its contexts: $XDG_CONFIG_HOME/gridedge,
// or the platform's user configuration directory.
func configDir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "gridedge"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory (set XDG_CONFIG_HOME): %w", err)
	}
	return filepath.Join(d, "gridedge"), nil
}

func checkContextName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("context name %q: want a plain file name (no slashes, not starting with a dot)", name)
	}
	return nil
}

func contextPath(name string) (string, error) {
	if err := checkContextName(name); err != nil {
		return "", err
	}
	d, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "contexts", name+".json"), nil
}

// loadContext reads a saved context; unknown keys are errors.
func loadContext(name string) (natsContext, error) {
	p, err := contextPath(name)
	if err != nil {
		return natsContext{}, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return natsContext{}, fmt.Errorf("context %q does not exist (see gridedge context ls)", name)
	}
	if err != nil {
		return natsContext{}, fmt.Errorf("read context %q: %w", name, err)
	}
	var c natsContext
	if err := config.Decode(data, &c); err != nil {
		return natsContext{}, fmt.Errorf("context %s: %w", p, err)
	}
	c.Name = name
	return c, nil
}

// saveContext writes c, readable by its owner only.
func saveContext(c natsContext) error {
	p, err := contextPath(c.Name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("create the contexts directory: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode context %q: %w", c.Name, err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write context %q: %w", c.Name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write context %q: %w", c.Name, err)
	}
	return nil
}

// selectedContext is the name chosen with `context use`, or "".
func selectedContext() (string, error) {
	d, err := configDir()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(d, "context.txt"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the chosen context: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func selectContext(name string) error {
	d, err := configDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", d, err)
	}
	if err := os.WriteFile(filepath.Join(d, "context.txt"), []byte(name+"\n"), 0o600); err != nil {
		return fmt.Errorf("choose context %q: %w", name, err)
	}
	return nil
}

// contextNames lists the saved contexts, sorted.
func contextNames() ([]string, error) {
	d, err := configDir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(d, "contexts"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list contexts: %w", err)
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() && checkContextName(n) == nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

func runContextAdd(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "context add", "NAME [--server URL] [--creds FILE | --user U --password P] [--tls-ca FILE] [--domain D] [--key SEEDFILE] [--use]")
	var c natsContext
	fs.StringVar(&c.Description, "description", "", "what the context is for")
	fs.StringVar(&c.URL, "server", "", "hub NATS URL(s), comma-separated")
	fs.StringVar(&c.Creds, "creds", "", "NATS credentials file")
	fs.StringVar(&c.User, "user", "", "NATS user")
	fs.StringVar(&c.Password, "password", "", "NATS password (stored in the context file, mode 0600)")
	fs.StringVar(&c.TLSCA, "tls-ca", "", "CA certificate file that signed the hub's certificate")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "client certificate file")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the client certificate's key file")
	fs.StringVar(&c.Domain, "domain", "", "the deployment's subject domain")
	fs.StringVar(&c.Key, "key", "", "operator nkey seed file that signs map pushes (see gridedge key gen)")
	use := fs.Bool("use", false, "also make it the chosen context")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	c.Name = pos[0]
	if err := checkContextName(c.Name); err != nil {
		return err
	}
	// absolute paths: the context is used from any directory
	for _, p := range []*string{&c.Creds, &c.TLSCA, &c.TLSCert, &c.TLSKey, &c.Key} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return fmt.Errorf("resolve %s: %w", *p, err)
			}
		}
	}
	check := mergeContexts(c, natsContext{URL: defaultURL, Domain: defaultDomain})
	if c.User != "" && c.Password == "" {
		check.Password = "given later" // the password may come from the environment
	}
	if err := check.check(); err != nil {
		return fmt.Errorf("context %q: %w", c.Name, err)
	}
	if err := saveContext(c); err != nil {
		return err
	}
	p, _ := contextPath(c.Name)
	fmt.Fprintf(env.Stdout, "saved context %s in %s\n", c.Name, p)
	if *use {
		if err := selectContext(c.Name); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "using context %s\n", c.Name)
	}
	return nil
}

func runContextLs(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "context ls", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	names, err := contextNames()
	if err != nil {
		return err
	}
	sel, err := selectedContext()
	if err != nil {
		return err
	}
	type entry struct {
		Name     string `json:"name"`
		Selected bool   `json:"selected"`
		natsContext
	}
	var out []entry
	for _, n := range names {
		c, err := loadContext(n)
		if err != nil {
			return err
		}
		c.Password = "" // never printed
		out = append(out, entry{Name: n, Selected: n == sel, natsContext: c})
	}
	if *asJSON {
		if out == nil {
			out = []entry{}
		}
		return writeJSON(env.Stdout, out)
	}
	t := newTable(env.Stdout, "CONTEXT", "SERVER", "AUTH", "DOMAIN", "DESCRIPTION")
	for _, e := range out {
		name := e.Name
		if e.Selected {
			name += " *"
		}
		auth := ""
		switch {
		case e.Creds != "":
			auth = "creds " + e.Creds
		case e.User != "":
			auth = "user " + e.User
		}
		t.row(name, e.URL, auth, e.Domain, e.Description)
	}
	return t.flush()
}

func runContextUse(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "context use", "NAME")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	if _, err := loadContext(pos[0]); err != nil {
		return err
	}
	if err := selectContext(pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "using context %s\n", pos[0])
	return nil
}

func runContextRm(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "context rm", "NAME")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	p, err := contextPath(pos[0])
	if err != nil {
		return err
	}
	if err := os.Remove(p); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("context %q does not exist", pos[0])
	} else if err != nil {
		return fmt.Errorf("remove context %q: %w", pos[0], err)
	}
	if sel, err := selectedContext(); err == nil && sel == pos[0] {
		d, _ := configDir()
		if err := os.Remove(filepath.Join(d, "context.txt")); err != nil {
			return fmt.Errorf("forget the chosen context: %w", err)
		}
	}
	fmt.Fprintf(env.Stdout, "removed context %s\n", pos[0])
	return nil
}
