package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/modbus"
	"github.com/gridedge/gridedge/edge/mqtt"
	"github.com/gridedge/gridedge/edge/poller"
	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/model"
)

// readTimeout bounds one control read (or the reads of a dry run's slave).
const readTimeout = 10 * time.Second

// readOnce polls vars of slave sl once, holding the slave's bus at high
// priority, on the running client of its URL or on a client made for the
// read. It returns the measurements by variable name and the poll's error.
func (a *Agent) readOnce(ctx context.Context, sl *settings.Slave, vars []settings.Variable) (map[string]model.Measurement, error) {
	u := SlaveURL(sl)
	a.mu.RLock()
	c, l := a.clients[u], a.buses[u]
	a.mu.RUnlock()
	if c == nil {
		timeout := time.Second
		if sl.Timeout > 0 {
			timeout = time.Duration(sl.Timeout * float64(time.Second))
		}
		var err error
		if c, err = modbus.NewClient(u, modbus.ClientOptions{Timeout: timeout, Logger: a.log}); err != nil {
			return nil, fmt.Errorf("connect %s: %w", u, err)
		}
		defer c.Close()
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	if l != nil {
		if err := l.Acquire(ctx, true); err != nil {
			return nil, err
		}
		defer l.Release()
	}
	p := poller.New(c, poller.Options{Name: fmt.Sprintf("%s#%d", u, sl.SlaveID), Slave: sl, Vars: vars,
		Period: time.Second, Logger: a.log})
	up, err := p.PollOnce(ctx)
	out := map[string]model.Measurement{}
	if up != nil {
		for k, v := range up.Set {
			if m, ok := v.(model.Measurement); ok {
				out[k[len(model.MeasurementsPrefix):]] = m
			}
		}
	}
	return out, err
}

// dryRun reads every new or changed variable of s once and compares s's
// slaves with the running ones; nothing is applied.
func (a *Agent) dryRun(ctx context.Context, s *settings.Settings) (*control.Changes, []control.Reading) {
	a.mu.RLock()
	old := a.settings
	keys := map[string]int{}
	for _, r := range a.slaves {
		keys[r.key]++
	}
	a.mu.RUnlock()
	oldByName := map[string]*settings.Slave{}
	oldLabel := map[string]string{} // "<index>:<name>" in the running map
	for i := range old.ModbusSlaves {
		sl := &old.ModbusSlaves[i]
		name := fmt.Sprintf("%s#%d", SlaveURL(sl), sl.SlaveID)
		if _, ok := oldByName[name]; !ok {
			oldByName[name] = sl
			oldLabel[name] = fmt.Sprintf("%d:%s", i, name)
		}
	}
	ch := &control.Changes{}
	var readings []control.Reading
	newNames := map[string]bool{}
	for i := range s.ModbusSlaves {
		sl := &s.ModbusSlaves[i]
		name := fmt.Sprintf("%s#%d", SlaveURL(sl), sl.SlaveID)
		newNames[name] = true
		if k := a.slaveKey(s, i); keys[k] > 0 {
			keys[k]--
			ch.Kept++
			continue
		}
		label := fmt.Sprintf("%d:%s", i, name)
		before := map[string]string{}
		if o := oldByName[name]; o != nil {
			ch.Changed = append(ch.Changed, label)
			for _, v := range old.ModbusMaps[o.Map] {
				b, _ := json.Marshal(v)
				before[v.Name] = string(b)
			}
		} else {
			ch.Added = append(ch.Added, label)
		}
		var vars []settings.Variable
		for _, v := range s.ModbusMaps[sl.Map] {
			if b, _ := json.Marshal(v); before[v.Name] != string(b) && v.Datatype != settings.DatatypeIgnore {
				vars = append(vars, v)
			}
		}
		if len(vars) == 0 {
			continue
		}
		ms, err := a.readOnce(ctx, sl, vars)
		for _, v := range vars {
			rd := control.Reading{Slave: label, Variable: v.Name}
			if m, ok := ms[v.Name]; ok && m.Quality == model.QualityGood {
				rd.Value = m.Value
			} else if err != nil {
				rd.Error = err.Error()
			} else {
				rd.Error = "not decoded (bad quality)"
			}
			readings = append(readings, rd)
		}
	}
	for name := range oldByName {
		if !newNames[name] {
			ch.Removed = append(ch.Removed, oldLabel[name])
		}
	}
	slices.Sort(ch.Removed)
	return ch, readings
}

// slaveOf returns the running SETTINGS and slave i of them.
func (a *Agent) slaveOf(i int) (*settings.Settings, *settings.Slave, *control.Error) {
	a.mu.RLock()
	s := a.settings
	a.mu.RUnlock()
	if i < 0 || i >= len(s.ModbusSlaves) {
		return s, nil, control.Errorf(control.CodeNotFound, "slave %d: the running map has %d slaves (0..%d)", i, len(s.ModbusSlaves), len(s.ModbusSlaves)-1)
	}
	return s, &s.ModbusSlaves[i], nil
}

func findVar(s *settings.Settings, sl *settings.Slave, name string) *settings.Variable {
	for i, v := range s.ModbusMaps[sl.Map] {
		if v.Name == name {
			return &s.ModbusMaps[sl.Map][i]
		}
	}
	return nil
}

// readVars are the variables a read request describes.
func readVars(s *settings.Settings, sl *settings.Slave, req *control.ReadRequest) ([]settings.Variable, *control.Error) {
	if req.Variable != "" {
		if req.Table != "" || req.Address != "" || req.Datatype != "" || req.Count > 1 {
			return nil, control.Errorf(control.CodeBadRequest, "give either variable or table/address/datatype/count, not both")
		}
		v := findVar(s, sl, req.Variable)
		if v == nil {
			return nil, control.Errorf(control.CodeNotFound, "variable %q is not in map %s", req.Variable, sl.Map)
		}
		return []settings.Variable{*v}, nil
	}
	count := req.Count
	if count == 0 {
		count = 1
	}
	if count < 1 || count > modbus.MaxReadRegisters {
		return nil, control.Errorf(control.CodeBadRequest, "count %d is out of range 1..%d", req.Count, modbus.MaxReadRegisters)
	}
	var addr settings.Address
	if err := json.Unmarshal([]byte(strconv.Quote(req.Address)), &addr); err != nil || req.Address == "" {
		return nil, control.Errorf(control.CodeBadRequest, "address %q is not a register address like 12 or 12.3", req.Address)
	}
	dt := req.Datatype
	if dt == "" {
		dt = settings.Datatype16Uint
		if req.Table == settings.TypeCoil || req.Table == settings.TypeDiscrete {
			dt = settings.DatatypeBool
		}
	}
	v := settings.Variable{Name: "v0", Type: req.Table, Address: addr, Datatype: dt, Datasize: req.Datasize, Order: req.Order}
	span := codec.SpanOf(&v)
	vars := make([]settings.Variable, count)
	for i := range vars {
		vars[i] = v
		vars[i].Name = "v" + strconv.Itoa(i)
		vars[i].Address.Register = addr.Register + uint16(i*span)
	}
	if int(addr.Register)+count*span > 65536 {
		return nil, control.Errorf(control.CodeBadRequest, "%d values from address %d run past the last address", count, addr.Register)
	}
	var es config.Errors
	settings.ValidateMap(&es, "read", vars)
	if len(es) > 0 {
		e := control.Errorf(control.CodeBadRequest, "the read does not describe a valid variable")
		for _, fe := range es {
			e.Details = append(e.Details, fe.Error())
		}
		return nil, e
	}
	return vars, nil
}

func (a *Agent) handleRead(ctx context.Context, m *nats.Msg) any {
	r := &control.ReadReply{Edge: a.cfg.Edge.ID}
	var req control.ReadRequest
	if e := decode(m.Data, &req); e != nil {
		r.Error = e
		return r
	}
	s, sl, e := a.slaveOf(req.Slave)
	if e != nil {
		r.Error = e
		return r
	}
	vars, e := readVars(s, sl, &req)
	if e != nil {
		r.Error = e
		return r
	}
	ms, err := a.readOnce(ctx, sl, vars)
	for _, v := range vars {
		mv, ok := ms[v.Name]
		if !ok || mv.Quality != model.QualityGood {
			if err == nil {
				err = fmt.Errorf("%s: not decoded", v.Name)
			}
			r.Values, r.Error = nil, control.Errorf(control.CodeModbus, "read slave %d (%s#%d): %v", req.Slave, SlaveURL(sl), sl.SlaveID, err)
			return r
		}
		r.Values = append(r.Values, mv.Value)
	}
	return r
}

// writeLimiter is the per-variable write rate limit of control writes when
// the agent has no MQTT bridge (with one, writes go through the bridge and
// share its limits and audit trail).
type writeLimiter struct {
	mu      sync.Mutex
	buckets map[string]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

// take takes a token for key under limit l, refusing when there is none.
func (w *writeLimiter) take(key string, now time.Time, l mqtt.RateLimit) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buckets == nil {
		w.buckets = map[string]*tokenBucket{}
	}
	b := w.buckets[key]
	if b == nil {
		b = &tokenBucket{tokens: float64(l.Burst), last: now}
		w.buckets[key] = b
	}
	b.tokens = min(float64(l.Burst), b.tokens+now.Sub(b.last).Seconds()*l.Rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// writeCode maps a write error to a reply code.
func writeCode(err error) string {
	switch {
	case errors.Is(err, mqtt.ErrNotWritable), errors.Is(err, mqtt.ErrReadOnly), errors.Is(err, mqtt.ErrNoBounds):
		return control.CodeNotWritable
	case errors.Is(err, mqtt.ErrOutOfBounds), errors.Is(err, codec.ErrRange), errors.Is(err, codec.ErrNotIntegral),
		errors.Is(err, codec.ErrUnknownLabel), errors.Is(err, codec.ErrValueType):
		return control.CodeOutOfRange
	case errors.Is(err, mqtt.ErrRateLimited):
		return control.CodeRateLimited
	case errors.Is(err, mqtt.ErrUnknownVariable), errors.Is(err, mqtt.ErrSlave):
		return control.CodeNotFound
	}
	return control.CodeModbus
}

func (a *Agent) handleWrite(ctx context.Context, m *nats.Msg) any {
	r := &control.WriteReply{Edge: a.cfg.Edge.ID}
	var req control.WriteRequest
	if e := decode(m.Data, &req); e != nil {
		r.Error = e
		return r
	}
	s, sl, e := a.slaveOf(req.Slave)
	if e != nil {
		r.Error = e
		return r
	}
	if req.Variable == "" || req.Value == nil {
		r.Error = control.Errorf(control.CodeBadRequest, "a write needs variable and value")
		return r
	}
	source := "nats:" + m.Subject
	if req.Pusher != "" {
		source += " by " + req.Pusher
	}
	if br := a.bridge.Load(); br != nil {
		res := br.b.Apply(ctx, source, req.Slave, []mqtt.Assignment{{Variable: req.Variable, Value: req.Value}})[0]
		if res.Err != nil {
			r.Error = control.Errorf(writeCode(res.Err), "%v", res.Err)
			return r
		}
		r.Value = res.New
		return r
	}
	err := a.writeDirect(ctx, s, sl, &req, &r.Value)
	result := "ok"
	if err != nil {
		r.Error = control.Errorf(writeCode(err), "%v", err)
		result = r.Error.Code
	}
	a.log.Warn("control: write", "audit", true, "source", source, "slave", req.Slave, "variable", req.Variable,
		"value", req.Value, "result", result)
	return r
}

// writeDirect checks and writes one variable without an MQTT bridge.
func (a *Agent) writeDirect(ctx context.Context, s *settings.Settings, sl *settings.Slave, req *control.WriteRequest, readBack *any) error {
	v := findVar(s, sl, req.Variable)
	if v == nil {
		return fmt.Errorf("%s: %w (not in map %s)", req.Variable, mqtt.ErrUnknownVariable, sl.Map)
	}
	if err := mqtt.CheckWrite(s, req.Slave, v, req.Value); err != nil {
		return err
	}
	l := a.cfg.MQTTOptions.WriteLimits.Variable
	if l.Rate == 0 {
		l = mqtt.RateLimit{Rate: mqtt.DefaultVariableWriteRate, Burst: mqtt.DefaultVariableWriteBurst}
	}
	if !a.writes.take(fmt.Sprintf("%d/%s", req.Slave, v.Name), time.Now(), l) {
		return fmt.Errorf("%s: %w (%g writes/s, burst %d)", v.Name, mqtt.ErrRateLimited, l.Rate, l.Burst)
	}
	wctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	_, after, err := mqtt.NewDeviceWriter(s, a.writeBusFor(s)).Write(wctx, req.Slave, v, req.Value)
	*readBack = after
	return err
}
