package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/logging"
)

// modbusFlags are the flags common to modbus read and write.
type modbusFlags struct {
	fs       *flag.FlagSet
	url      *string
	slave    *int
	table    *string
	address  *string
	datatype *string
	datasize *int
	order    *string
	timeout  *time.Duration
	level    *string
}

func newModbusFlags(env Env, name, synopsis, tables string) *modbusFlags {
	fs := newFlags(env, name, synopsis)
	return &modbusFlags{
		fs: fs,
		url: fs.String("url", "", "device URL (required): tcp://host:port, rtuovertcp://host:port, "+
			"rtu:///dev/ttyUSB0?baud=9600&parity=N&databits=8&stopbits=1 or ascii:///dev/ttyUSB0?... "+
			"(serial default 19200 8E1, ASCII 7E1)"),
		slave:    fs.Int("slave", 1, "slave (unit) id, 0..255; 0 is broadcast on serial lines (writes only)"),
		table:    fs.String("table", "", "register table (required): "+tables),
		address:  fs.String("address", "", `0-based address (required), or "register.bit" for one bit of a register`),
		datatype: fs.String("datatype", "", "datatype: 16uint, 16int, 32float, string, bits, ... (default 16uint for registers, bool for coils)"),
		datasize: fs.Int("datasize", 0, "size of string and ignore values in registers, or of bits in coils"),
		order:    fs.String("order", "", "byte and word order: ABCD (default), CDAB, BADC or DCBA"),
		timeout:  fs.Duration("timeout", time.Second, "time to wait for each response"),
		level:    fs.String("log-level", "warn", "debug, info, warn or error"),
	}
}

// usageError prints msg and the usage, and returns errUsage.
func (f *modbusFlags) usageError(format string, args ...any) error {
	fmt.Fprintf(f.fs.Output(), "gridedge %s: %s\n", strings.TrimPrefix(f.fs.Name(), "gridedge "), fmt.Sprintf(format, args...))
	f.fs.Usage()
	return errUsage
}

// variable builds the variable the flags describe and checks it as a
// SETTINGS map entry would be checked.
func (f *modbusFlags) variable(allowed []string) (*settings.Variable, error) {
	var missing []string
	if *f.url == "" {
		missing = append(missing, "--url")
	}
	if *f.table == "" {
		missing = append(missing, "--table")
	}
	if *f.address == "" {
		missing = append(missing, "--address")
	}
	if len(missing) > 0 {
		return nil, f.usageError("missing %s", strings.Join(missing, ", "))
	}
	if !slices.Contains(allowed, *f.table) {
		return nil, f.usageError("--table %q is not one of %s", *f.table, strings.Join(allowed, ", "))
	}
	if *f.slave < 0 || *f.slave > 255 {
		return nil, f.usageError("--slave %d is out of range 0..255", *f.slave)
	}
	if *f.timeout <= 0 {
		return nil, f.usageError("--timeout must be positive")
	}
	v := &settings.Variable{Name: "value", Type: *f.table, Datatype: *f.datatype, Datasize: *f.datasize, Order: strings.ToUpper(*f.order)}
	if err := json.Unmarshal(strconv.AppendQuote(nil, *f.address), &v.Address); err != nil {
		return nil, f.usageError("--address: %v", err)
	}
	if v.Datatype == "" {
		v.Datatype = settings.Datatype16Uint
		if v.Type == settings.TypeCoil || v.Type == settings.TypeDiscrete {
			v.Datatype = settings.DatatypeBool
		}
	}
	var es config.Errors
	settings.ValidateMap(&es, "", []settings.Variable{*v})
	if len(es) > 0 {
		var msgs []string
		for _, e := range es {
			field := e.Path[strings.LastIndex(e.Path, ".")+1:]
			if field == "type" {
				field = "table"
			}
			msgs = append(msgs, "--"+field+" "+e.Msg)
		}
		return nil, f.usageError("%s", strings.Join(msgs, "; "))
	}
	return v, nil
}

func (f *modbusFlags) client(env Env) (*modbus.Client, error) {
	lvl, err := logging.ParseLevel(*f.level)
	if err != nil {
		return nil, f.usageError("--log-level: %v", err)
	}
	c, err := modbus.NewClient(*f.url, modbus.ClientOptions{Timeout: *f.timeout, Logger: logging.New(env.Stderr, lvl, false)})
	if err != nil {
		return nil, f.usageError("--url: %v", err)
	}
	return c, nil
}

func isBitTable(t string) bool { return t == settings.TypeCoil || t == settings.TypeDiscrete }

func runModbusRead(ctx context.Context, env Env, args []string) error {
	f := newModbusFlags(env, "modbus read",
		"--url URL --slave N --table holding|input|coil|discrete --address A --datatype T [--order ABCD|CDAB|BADC|DCBA] [--count N] [--json]",
		"holding, input, coil or discrete")
	count := f.fs.Int("count", 1, "number of consecutive values to read")
	asJSON := f.fs.Bool("json", false, `print one JSON document {"values":[...]}`)
	if err := parse(f.fs, args); err != nil {
		return err
	}
	v, err := f.variable([]string{settings.TypeHolding, settings.TypeInput, settings.TypeCoil, settings.TypeDiscrete})
	if err != nil {
		return err
	}
	span := codec.SpanOf(v)
	switch {
	case *count < 1:
		return f.usageError("--count %d must be at least 1", *count)
	case *count > 1 && v.Address.HasBit:
		return f.usageError("--count applies to whole values, not to a bit address")
	case int(v.Address.Register)+*count*span > 65536:
		return f.usageError("%d values of %d from address %d run past address 65535", *count, span, v.Address.Register)
	}
	c, err := f.client(env)
	if err != nil {
		return err
	}
	defer c.Close()

	values, err := readValues(ctx, c, byte(*f.slave), v, span, *count)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]any, len(values))
		for i, x := range values {
			out[i] = jsonSafe(x)
		}
		b, err := json.Marshal(map[string]any{"values": out})
		if err != nil {
			return fmt.Errorf("encode values: %w", err)
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	for _, x := range values {
		fmt.Fprintln(env.Stdout, formatValue(x))
	}
	return nil
}

// readValues reads count consecutive values of v, in as few requests as
// the protocol limits allow, and decodes them.
func readValues(ctx context.Context, c *modbus.Client, slave byte, v *settings.Variable, span, count int) ([]any, error) {
	limit := modbus.MaxReadRegisters
	if isBitTable(v.Type) {
		limit = modbus.MaxReadBits
	}
	if span > limit {
		return nil, fmt.Errorf("a %s value of %d %s exceeds one request", v.Datatype, span, v.Type)
	}
	perRequest := limit / span
	values := make([]any, 0, count)
	for done := 0; done < count; {
		n := min(perRequest, count-done)
		addr := uint16(int(v.Address.Register) + done*span)
		qty := uint16(n * span)
		var (
			regs []uint16
			bits []bool
			err  error
		)
		switch v.Type {
		case settings.TypeHolding:
			regs, err = c.ReadHoldingRegisters(ctx, slave, addr, qty)
		case settings.TypeInput:
			regs, err = c.ReadInputRegisters(ctx, slave, addr, qty)
		case settings.TypeCoil:
			bits, err = c.ReadCoils(ctx, slave, addr, qty)
		case settings.TypeDiscrete:
			bits, err = c.ReadDiscreteInputs(ctx, slave, addr, qty)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.URL(), err)
		}
		for i := range n {
			var (
				x   any
				err error
			)
			if bits != nil {
				x, err = codec.DecodeBits(v, bits[i*span:(i+1)*span])
			} else {
				x, err = codec.Decode(v, "", regs[i*span:(i+1)*span])
			}
			if err != nil {
				return nil, fmt.Errorf("value %d at %s %d: %w", done+i, v.Type, int(addr)+i*span, err)
			}
			values = append(values, x)
		}
		done += n
	}
	return values, nil
}

// jsonSafe replaces what JSON cannot carry (NaN, infinities) by strings.
func jsonSafe(x any) any {
	if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return x
}

// formatValue prints a decoded value on one line.
func formatValue(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	case []bool:
		s := make([]string, len(x))
		for i, b := range x {
			s[i] = "0"
			if b {
				s[i] = "1"
			}
		}
		return strings.Join(s, ",")
	default:
		return fmt.Sprint(x)
	}
}

func runModbusWrite(ctx context.Context, env Env, args []string) error {
	f := newModbusFlags(env, "modbus write",
		"--url URL --slave N --table holding|coil --address A --datatype T --value V [--order ABCD|CDAB|BADC|DCBA]",
		"holding or coil")
	value := f.fs.String("value", "", "value to write (required): a number, a string, true/false for coils, comma-separated 0/1 for bits")
	if err := parse(f.fs, args); err != nil {
		return err
	}
	valueSet := false
	f.fs.Visit(func(fl *flag.Flag) { valueSet = valueSet || fl.Name == "value" })
	if !valueSet {
		return f.usageError("missing --value")
	}
	v, err := f.variable([]string{settings.TypeHolding, settings.TypeCoil})
	if err != nil {
		return err
	}
	var val any = *value
	if v.Datatype == settings.DatatypeBits {
		parts := strings.Split(*value, ",")
		list := make([]any, len(parts))
		for i, p := range parts {
			list[i] = strings.TrimSpace(p)
		}
		val = list
	}
	// Encode before connecting: a value the datatype cannot hold is a usage
	// error and nothing is sent.
	var (
		regs, mask []uint16
		bits       []bool
	)
	if isBitTable(v.Type) {
		bits, err = codec.EncodeBits(v, val)
	} else {
		regs, mask, err = codec.EncodeMasked(v, "", val)
	}
	if err != nil {
		return f.usageError("--value %q: %v", *value, err)
	}
	c, err := f.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	slave, addr := byte(*f.slave), v.Address.Register
	switch {
	case len(bits) == 1:
		err = c.WriteSingleCoil(ctx, slave, addr, bits[0])
	case bits != nil:
		err = c.WriteMultipleCoils(ctx, slave, addr, bits)
	default:
		partial := slices.ContainsFunc(mask, func(m uint16) bool { return m != 0xFFFF })
		if partial {
			// Read-modify-write: keep the bits the variable does not cover.
			if slave == 0 {
				return f.usageError("a %s at %s covers part of its register, which needs a read: it cannot be broadcast", v.Datatype, v.Address)
			}
			cur, rerr := c.ReadHoldingRegisters(ctx, slave, addr, uint16(len(regs)))
			if rerr != nil {
				return fmt.Errorf("%s: read before write: %w", c.URL(), rerr)
			}
			regs = codec.Merge(cur, regs, mask)
		}
		if len(regs) == 1 {
			err = c.WriteSingleRegister(ctx, slave, addr, regs[0])
		} else {
			err = c.WriteMultipleRegisters(ctx, slave, addr, regs)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.URL(), err)
	}
	return nil
}
