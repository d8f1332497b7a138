package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Commands that manage the hub's users and application credentials through
// its REST API (/api/v2/users, /api/v2/apps). They act as an admin: with
// --user/--password they log in (and out again), with --token they use an
// existing login token.

// hubFlags are the connection flags of every hub command.
type hubFlags struct {
	hub, user, password, token string
}

func addHubFlags(fs *flag.FlagSet) *hubFlags {
	h := &hubFlags{}
	fs.StringVar(&h.hub, "hub", envOr("GRIDEDGE_HUB", "http://localhost:8080"), "hub URL (env GRIDEDGE_HUB)")
	fs.StringVar(&h.user, "user", envOr("GRIDEDGE_USER", "admin"), "admin user to act as (env GRIDEDGE_USER)")
	fs.StringVar(&h.password, "password", os.Getenv("GRIDEDGE_PASSWORD"), "its password (env GRIDEDGE_PASSWORD)")
	fs.StringVar(&h.token, "token", os.Getenv("GRIDEDGE_TOKEN"), "a login token of --user instead of the password (env GRIDEDGE_TOKEN)")
	return h
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// grantFlag collects repeated --grant layer=perm flags.
type grantFlag map[string]string

func (g grantFlag) String() string {
	var s []string
	for k, v := range g {
		s = append(s, k+"="+v)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func (g grantFlag) Set(v string) error {
	layer, perm, ok := strings.Cut(v, "=")
	if !ok {
		layer, perm, ok = strings.Cut(v, ":")
	}
	if !ok || layer == "" {
		return fmt.Errorf("want layer=permission, got %q", v)
	}
	if err := checkPerm(perm); err != nil {
		return err
	}
	g[layer] = perm
	return nil
}

func checkPerm(p string) error {
	switch p {
	case "none", "public", "read", "write":
		return nil
	}
	return fmt.Errorf("permission %q is not one of none, public, read, write", p)
}

// parseArgs parses flags that may come before or after the positional
// arguments, and checks their number.
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != len(names) {
		if len(pos) < len(names) {
			fmt.Fprintf(fs.Output(), "missing %s\n", strings.Join(names[len(pos):], " "))
		} else {
			fmt.Fprintf(fs.Output(), "unexpected argument %q\n", pos[len(names)])
		}
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// hubClient calls the hub's REST API as one principal.
type hubClient struct {
	base    string
	http    *http.Client
	id, tok string
	logout  bool
}

// apiError is an error answer of the hub.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("hub answered %d: %s", e.Status, e.Message) }

func (h *hubFlags) connect(ctx context.Context) (*hubClient, error) {
	u, err := url.Parse(h.hub)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--hub %q: want http(s)://host:port", h.hub)
	}
	c := &hubClient{base: strings.TrimRight(h.hub, "/") + "/api/v2", http: &http.Client{Timeout: 30 * time.Second}}
	if h.token != "" {
		c.id, c.tok = h.user, h.token
		return c, nil
	}
	if h.password == "" {
		return nil, errors.New("give --password (or GRIDEDGE_PASSWORD), or --token, for the admin user")
	}
	var sess struct {
		UserID    string `json:"userId"`
		AuthToken string `json:"authToken"`
	}
	if err := c.call(ctx, "POST", "/login", map[string]string{"user": h.user, "password": h.password}, &sess); err != nil {
		return nil, fmt.Errorf("log in to %s as %s: %w", h.hub, h.user, err)
	}
	c.id, c.tok, c.logout = sess.UserID, sess.AuthToken, true
	return c, nil
}

// close logs out when connect logged in.
func (c *hubClient) close(ctx context.Context) {
	if c.logout {
		_ = c.call(ctx, "POST", "/logout", nil, nil)
	}
}

// call sends a request and decodes the data of a success answer into out.
func (c *hubClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.id != "" {
		req.Header.Set("X-User-ID", c.id)
		req.Header.Set("X-Auth-Token", c.tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	var env struct {
		Status  string          `json:"status"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("%s %s: %d, not a hub answer: %.200q", method, path, resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK || env.Status != "success" {
		return &apiError{Status: resp.StatusCode, Message: env.Message}
	}
	if out != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// hubUser is a user as the hub returns it.
type hubUser struct {
	ID       string            `json:"_id"`
	Email    string            `json:"email"`
	Admin    bool              `json:"admin"`
	Grants   map[string]string `json:"grants"`
	Password string            `json:"password"` // only when the hub generated it
}

func formatGrants(g map[string]string) string {
	if len(g) == 0 {
		return "-"
	}
	return grantFlag(g).String()
}

func runUserAdd(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "user add", "[flags] NAME")
	h := addHubFlags(fs)
	email := fs.String("email", "", "the new user's e-mail address (login accepts it too)")
	admin := fs.Bool("admin", false, "make the new user an admin")
	newPassword := fs.String("new-password", os.Getenv("GRIDEDGE_NEW_PASSWORD"),
		"the new user's password (env GRIDEDGE_NEW_PASSWORD; default: generated by the hub and printed)")
	grants := grantFlag{}
	fs.Var(grants, "grant", "permission on a layer, layer=none|public|read|write (repeatable)")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	c, err := h.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close(ctx)
	body := map[string]any{"username": pos[0], "admin": *admin, "grants": map[string]string(grants)}
	if *email != "" {
		body["email"] = *email
	}
	if *newPassword != "" {
		body["password"] = *newPassword
	}
	var u hubUser
	if err := c.call(ctx, "POST", "/users", body, &u); err != nil {
		return fmt.Errorf("add user %q: %w", pos[0], err)
	}
	fmt.Fprintf(env.Stdout, "added user %s (admin %v, grants %s)\n", u.ID, u.Admin, formatGrants(u.Grants))
	if u.Password != "" {
		fmt.Fprintf(env.Stdout, "password: %s\n(shown once; the hub keeps only a hash)\n", u.Password)
	}
	return nil
}

func runUserGrant(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "user grant", "[flags] NAME LAYER none|public|read|write")
	h := addHubFlags(fs)
	pos, err := parseArgs(fs, args, "NAME", "LAYER", "PERMISSION")
	if err != nil {
		return err
	}
	if err := checkPerm(pos[2]); err != nil {
		return err
	}
	c, err := h.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close(ctx)
	var u hubUser
	body := map[string]any{"grants": map[string]string{pos[1]: pos[2]}}
	if err := c.call(ctx, "PATCH", "/users/"+url.PathEscape(pos[0]), body, &u); err != nil {
		return fmt.Errorf("grant %s on %s to %s: %w", pos[2], pos[1], pos[0], err)
	}
	fmt.Fprintf(env.Stdout, "user %s: grants %s\n", u.ID, formatGrants(u.Grants))
	return nil
}

func runUserList(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "user list", "[flags]")
	h := addHubFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	c, err := h.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close(ctx)
	var users []hubUser
	if err := c.call(ctx, "GET", "/users", nil, &users); err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(users)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tADMIN\tEMAIL\tGRANTS")
	for _, u := range users {
		email := u.Email
		if email == "" {
			email = "-"
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", u.ID, u.Admin, email, formatGrants(u.Grants))
	}
	return tw.Flush()
}

func runAppAdd(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "app add", "[flags] NAME")
	h := addHubFlags(fs)
	grants := grantFlag{}
	fs.Var(grants, "grant", "permission on a layer, layer=none|public|read|write (repeatable)")
	pos, err := parseArgs(fs, args, "NAME")
	if err != nil {
		return err
	}
	c, err := h.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close(ctx)
	var k struct {
		AppID string `json:"appId"`
		KeyID string `json:"keyId"`
	}
	if err := c.call(ctx, "POST", "/apps", map[string]any{"name": pos[0], "grants": map[string]string(grants)}, &k); err != nil {
		return fmt.Errorf("add app %q: %w", pos[0], err)
	}
	fmt.Fprintf(env.Stdout, "added app %s (grants %s)\nappId: %s\nkeyId: %s\n(the keyId is shown once; send both as X-User-ID/X-Auth-Token headers or appId/keyId query parameters)\n",
		pos[0], formatGrants(grants), k.AppID, k.KeyID)
	return nil
}
