package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// `gridedge edge read|write` send one Modbus request through an edge
// (commissioning), with the flags of `gridedge modbus read|write`, except
// that the device is a slave of the edge's map (--slave is its 0-based
// index in modbusSlaves) instead of a --url, and a write names a writable
// variable of the slave's map: the edge applies the rules of MQTT writes.

func runEdgeRead(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "edge read", "--edge E --slave N (--variable NAME | --table T --address A [--datatype T] [--datasize N] [--order O] [--count N]) [--json]")
	c := addConnFlags(fs)
	edge := fs.String("edge", "", "the edge (required)")
	var req control.ReadRequest
	fs.IntVar(&req.Slave, "slave", 0, "0-based index of the slave in the edge's modbusSlaves (see gridedge map get)")
	fs.StringVar(&req.Variable, "variable", "", "a variable of the slave's map, decoded as the map says")
	fs.StringVar(&req.Table, "table", "", "register table: holding, input, coil or discrete")
	fs.StringVar(&req.Address, "address", "", `0-based address, or "register.bit"`)
	fs.StringVar(&req.Datatype, "datatype", "", "datatype: 16uint, 16int, 32float, string, bits, ... (default 16uint for registers, bool for coils)")
	fs.IntVar(&req.Datasize, "datasize", 0, "size of string and ignore values in registers, or of bits in coils")
	fs.StringVar(&req.Order, "order", "", "byte and word order: ABCD, CDAB, BADC or DCBA (default the slave's)")
	fs.IntVar(&req.Count, "count", 1, "number of consecutive values to read")
	asJSON := fs.Bool("json", false, `print one JSON document {"values":[...]}`)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	usage := func(format string, a ...any) error {
		fmt.Fprintf(env.Stderr, "gridedge edge read: %s\n", fmt.Sprintf(format, a...))
		fs.Usage()
		return errUsage
	}
	req.Order = strings.ToUpper(req.Order)
	switch {
	case *edge == "":
		return usage("missing --edge")
	case req.Slave < 0:
		return usage("--slave %d must be 0 or more", req.Slave)
	case req.Variable != "" && (req.Table != "" || req.Address != ""):
		return usage("give --variable or --table and --address, not both")
	case req.Variable == "" && (req.Table == "" || req.Address == ""):
		return usage("give --variable, or --table and --address")
	case req.Count < 1 || req.Count > 125:
		return usage("--count %d is out of range 1..125", req.Count)
	case req.Table != "" && req.Table != settings.TypeHolding && req.Table != settings.TypeInput &&
		req.Table != settings.TypeCoil && req.Table != settings.TypeDiscrete:
		return usage("--table %q is not one of holding, input, coil, discrete", req.Table)
	case !settings.ValidOrder(req.Order):
		return usage("--order %q is not one of %s", req.Order, strings.Join(settings.Orders, ", "))
	}
	nc, conn, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	var reply control.ReadReply
	if err := edgeRequest(ctx, nc, conn.Domain, *edge, subject.ActionRead, req, &reply, *c.timeout); err != nil {
		return fmt.Errorf("read through edge %s: %w", *edge, err)
	}
	if *asJSON {
		vals := make([]any, len(reply.Values))
		for i, v := range reply.Values {
			vals[i] = jsonSafe(v)
		}
		b, err := json.Marshal(map[string]any{"values": vals})
		if err != nil {
			return fmt.Errorf("encode values: %w", err)
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
		return err
	}
	for _, v := range reply.Values {
		fmt.Fprintln(env.Stdout, formatValue(v))
	}
	return nil
}

func runEdgeWrite(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "edge write", "--edge E --slave N --variable NAME --value V [--json]")
	c := addConnFlags(fs)
	edge := fs.String("edge", "", "the edge (required)")
	var req control.WriteRequest
	fs.IntVar(&req.Slave, "slave", 0, "0-based index of the slave in the edge's modbusSlaves (see gridedge map get)")
	fs.StringVar(&req.Variable, "variable", "", `a variable of the slave's map marked "writable": true (required)`)
	value := fs.String("value", "", "value to write (required): a number, true/false, a string or a translation's label")
	pusher := fs.String("pusher", defaultPusher(), "who writes, for the edge's audit log (env GRIDEDGE_PUSHER)")
	asJSON := fs.Bool("json", false, `print the edge's answer {"edge","value"} as JSON`)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	valueSet := false
	fs.Visit(func(f *flag.Flag) { valueSet = valueSet || f.Name == "value" })
	usage := func(format string, a ...any) error {
		fmt.Fprintf(env.Stderr, "gridedge edge write: %s\n", fmt.Sprintf(format, a...))
		fs.Usage()
		return errUsage
	}
	switch {
	case *edge == "":
		return usage("missing --edge")
	case req.Variable == "":
		return usage("missing --variable")
	case !valueSet:
		return usage("missing --value")
	case req.Slave < 0:
		return usage("--slave %d must be 0 or more", req.Slave)
	}
	req.Value, req.Pusher = parseValue(*value), *pusher
	nc, conn, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	var reply control.WriteReply
	if err := edgeRequest(ctx, nc, conn.Domain, *edge, subject.ActionWrite, req, &reply, *c.timeout); err != nil {
		return fmt.Errorf("write %s through edge %s: %w", req.Variable, *edge, err)
	}
	if *asJSON {
		return writeJSON(env.Stdout, reply)
	}
	if reply.Value != nil {
		fmt.Fprintf(env.Stdout, "%s = %s (read back)\n", req.Variable, formatValue(reply.Value))
	} else {
		fmt.Fprintf(env.Stdout, "%s written\n", req.Variable)
	}
	return nil
}

// parseValue turns a --value into a JSON number or bool when it spells
// one, and keeps it a string otherwise (a string datatype, a label).
func parseValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		switch v.(type) {
		case float64, bool:
			return v
		}
	}
	return s
}

func runEdgeConfig(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "edge config", "--edge E [--json]")
	c := addConnFlags(fs)
	edge := fs.String("edge", "", "the edge (required)")
	asJSON := fs.Bool("json", false, `print the whole answer {"edge","config","map"}; default: the config alone`)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *edge == "" {
		fmt.Fprintln(env.Stderr, "gridedge edge config: missing --edge")
		fs.Usage()
		return errUsage
	}
	nc, conn, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	var reply control.ConfigGetReply
	if err := edgeRequest(ctx, nc, conn.Domain, *edge, subject.ActionConfigGet, nil, &reply, *c.timeout); err != nil {
		return fmt.Errorf("get the config of edge %s: %w", *edge, err)
	}
	if *asJSON {
		return writeJSON(env.Stdout, reply)
	}
	return writeJSON(env.Stdout, reply.Config)
}
