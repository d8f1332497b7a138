package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// mapFile is a SETTINGS document read from a file.
type mapFile struct {
	// Path is the file's name.
	Path string
	// JSON is the document as JSON (a YAML file converted), what a push sends.
	JSON []byte
	// Settings is the decoded, validated document.
	Settings *settings.Settings
	// Version is the document's map version (control.MapVersion).
	Version string
}

// readMap reads a SETTINGS file (JSON or YAML) and checks it exactly as
// the agent does at start-up (settings.Load): the same errors, with field
// paths. A partial document (only the maps and slaves a push changes) is
// decoded strictly but not validated as a whole: the agent validates the
// merged document.
func readMap(path string, partial bool) (*mapFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the map: %w", err)
	}
	var s *settings.Settings
	if partial {
		s = new(settings.Settings)
		err = config.Decode(data, s)
	} else {
		s, err = settings.Load(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	doc, err := toJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v, err := control.MapVersion(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &mapFile{Path: path, JSON: doc, Settings: s, Version: v}, nil
}

// toJSON returns a JSON or YAML document as JSON, unchanged when it already
// is JSON (so that its numbers keep their spelling).
func toJSON(data []byte) ([]byte, error) {
	if json.Valid(data) {
		return bytes.TrimSpace(data), nil
	}
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("neither valid JSON nor valid YAML: %w", err)
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("convert YAML to JSON: %w", err)
	}
	return b, nil
}

func runMapValidate(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "map validate", "[--partial] [--json] FILE")
	partial := fs.Bool("partial", false, "the file holds only the maps and slaves a push changes (see map push --partial)")
	asJSON := fs.Bool("json", false, `print {"file","valid","version","errors":[{"path","message"}]}`)
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	m, err := readMap(pos[0], *partial)
	if *asJSON {
		type problem struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		}
		out := struct {
			File    string    `json:"file"`
			Valid   bool      `json:"valid"`
			Version string    `json:"version,omitempty"`
			Errors  []problem `json:"errors,omitempty"`
		}{File: pos[0], Valid: err == nil}
		if m != nil {
			out.Version = m.Version
		}
		var es config.Errors
		switch {
		case errors.As(err, &es):
			for _, e := range es {
				out.Errors = append(out.Errors, problem{e.Path, e.Msg})
			}
		case err != nil:
			out.Errors = append(out.Errors, problem{"", err.Error()})
		}
		if werr := writeJSON(env.Stdout, out); werr != nil {
			return werr
		}
		if err != nil {
			return errQuiet
		}
		return nil
	}
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				fmt.Fprintf(env.Stderr, "%s: %s\n", pos[0], e)
			}
			return fmt.Errorf("%s: %d problem(s)", pos[0], len(es))
		}
		return err
	}
	vars := 0
	for _, vs := range m.Settings.ModbusMaps {
		vars += len(vs)
	}
	fmt.Fprintf(env.Stdout, "%s: valid, version %s (%d maps, %d variables, %d slaves)\n",
		pos[0], m.Version, len(m.Settings.ModbusMaps), vars, len(m.Settings.ModbusSlaves))
	return nil
}

func runMapDiff(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "map diff", "(--edge E | --against OLDFILE) [--json] FILE")
	c := addConnFlags(fs)
	edge := fs.String("edge", "", "compare with the map edge E runs (fetched with map.get)")
	against := fs.String("against", "", "compare with this SETTINGS file instead of an edge (offline)")
	asJSON := fs.Bool("json", false, "print the diff as JSON")
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	if (*edge == "") == (*against == "") {
		fmt.Fprintln(env.Stderr, "gridedge map diff: give exactly one of --edge and --against")
		fs.Usage()
		return errUsage
	}
	newMap, err := readMap(pos[0], false)
	if err != nil {
		return err
	}
	var old *settings.Settings
	oldName, oldVersion := *against, ""
	if *against != "" {
		m, err := readMap(*against, false)
		if err != nil {
			return err
		}
		old, oldVersion = m.Settings, m.Version
	} else {
		nc, conn, err := c.connect()
		if err != nil {
			return err
		}
		defer nc.Close()
		var reply control.MapGetReply
		if err := edgeRequest(ctx, nc, conn.Domain, *edge, subject.ActionMapGet, control.MapGetRequest{}, &reply, *c.timeout); err != nil {
			return fmt.Errorf("get the map of edge %s: %w", *edge, err)
		}
		if old, err = settings.Load(reply.Settings); err != nil {
			return fmt.Errorf("the map edge %s runs: %w", *edge, err)
		}
		oldName, oldVersion = "edge "+*edge, reply.Map.Version
	}
	d := diffSettings(old, newMap.Settings)
	if *asJSON {
		return writeJSON(env.Stdout, struct {
			Old     string `json:"old"`
			OldVer  string `json:"oldVersion"`
			New     string `json:"new"`
			NewVer  string `json:"newVersion"`
			Changed bool   `json:"changed"`
			mapDiff
		}{oldName, oldVersion, pos[0], newMap.Version, d.Changed(), d})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s (%s)\n+++ %s (%s)\n", oldName, oldVersion, pos[0], newMap.Version)
	d.print(&b)
	_, err = fmt.Fprint(env.Stdout, b.String())
	return err
}

func runMapGet(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "map get", "--edge E [--previous] [--json]")
	c := addConnFlags(fs)
	edge := fs.String("edge", "", "the edge (required)")
	previous := fs.Bool("previous", false, "the map a rollback would restore instead of the running one")
	asJSON := fs.Bool("json", false, `print the whole answer {"edge","map":{version,pusher,appliedAt,...},"settings"}; default: the SETTINGS document alone`)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *edge == "" {
		fmt.Fprintln(env.Stderr, "gridedge map get: missing --edge")
		fs.Usage()
		return errUsage
	}
	nc, conn, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	var reply control.MapGetReply
	if err := edgeRequest(ctx, nc, conn.Domain, *edge, subject.ActionMapGet, control.MapGetRequest{Previous: *previous}, &reply, *c.timeout); err != nil {
		return fmt.Errorf("get the map of edge %s: %w", *edge, err)
	}
	if *asJSON {
		return writeJSON(env.Stdout, reply)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, reply.Settings, "", "  "); err != nil {
		return fmt.Errorf("edge %s sent a map that is not JSON: %w", *edge, err)
	}
	b.WriteByte('\n')
	fmt.Fprintf(env.Stderr, "edge %s runs %s (source %s, pushed by %s, applied %s)\n", *edge, reply.Map.Version,
		reply.Map.Source, orDash(reply.Map.Pusher), reply.Map.AppliedAt.Format("2006-01-02 15:04:05Z07:00"))
	_, err = env.Stdout.Write(b.Bytes())
	return err
}

func runMapRollback(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "map rollback", "--edge E [--key SEEDFILE] [--pusher NAME] [--json]")
	c := addConnFlags(fs)
	edge := fs.String("edge", "", "the edge (required)")
	key := fs.String("key", "", "operator nkey seed file that signs the request (env GRIDEDGE_KEY, or the context's key)")
	pusher := fs.String("pusher", defaultPusher(), "who asks, recorded by the edge (env GRIDEDGE_PUSHER)")
	asJSON := fs.Bool("json", false, "print the edge's answer as JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *edge == "" {
		fmt.Fprintln(env.Stderr, "gridedge map rollback: missing --edge")
		fs.Usage()
		return errUsage
	}
	conn, err := c.resolve()
	if err != nil {
		return err
	}
	kp, err := loadSigningKey(env, firstNonEmpty(*key, conn.Key))
	if err != nil {
		return err
	}
	nc, err := conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	req := control.RollbackRequest{Edge: *edge, Pusher: *pusher, IssuedAt: now()}
	if err := control.Sign(kp, &req); err != nil {
		return err
	}
	var reply control.RollbackReply
	rerr := edgeRequest(ctx, nc, conn.Domain, *edge, subject.ActionMapRollback, req, &reply, *c.timeout)
	if *asJSON && reply.Edge != "" {
		if err := writeJSON(env.Stdout, reply); err != nil {
			return err
		}
	}
	if rerr != nil {
		return fmt.Errorf("roll back the map of edge %s: %w", *edge, rerr)
	}
	if !*asJSON {
		fmt.Fprintf(env.Stdout, "edge %s: rolled back %s -> %s\n", *edge, reply.Previous, reply.Version)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
