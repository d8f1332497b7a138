package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
)

// publishTimeout bounds one publication (waiting for PUBACK/PUBCOMP).
const publishTimeout = 10 * time.Second

// Bridge publishes the slaves' status and turns MQTT commands into Modbus
// writes, for one SETTINGS document. Create it with New, run it with Run,
// feed it with Publish.
type Bridge struct {
	s        *settings.Settings
	w        Writer
	o        Options
	log      *slog.Logger
	url      *url.URL
	tls      *tls.Config
	clientID string

	slaves    []*slaveState
	filters   []subscription
	pubTopics map[string]bool
	audit     *audit
	limits    *limiter

	pubq chan outMsg
	cmdq chan inMsg

	running    atomic.Bool
	connected  atomic.Bool
	subscribed atomic.Bool
	st         counters

	errMu   sync.Mutex
	lastErr string
}

// slaveState is what the bridge knows of one slave.
type slaveState struct {
	vars   map[string]*settings.Variable
	render *renderer
	mu     sync.Mutex
	values map[string]any // last value of every variable seen; nil for a bad reading
}

// subscription is one topic filter and the slaves it commands.
type subscription struct {
	filter string
	slaves []int
}

type outMsg struct {
	topic   string
	payload []byte
}

type inMsg struct {
	topic   string
	payload []byte
}

type counters struct {
	published, publishErrors, dropped atomic.Uint64
	commands, writes, refused, failed atomic.Uint64
	rateLimited                       atomic.Uint64
}

// Stats are the bridge's counters.
type Stats struct {
	// Connected tells whether the broker connection is up.
	Connected bool `json:"connected"`
	// Subscribed tells whether the broker acknowledged the command
	// subscriptions on the current connection (false while there are none).
	Subscribed bool `json:"subscribed"`
	// Published counts publications the broker accepted (status and error reports).
	Published uint64 `json:"published"`
	// PublishErrors counts publications that failed.
	PublishErrors uint64 `json:"publish_errors"`
	// Dropped counts publications dropped because the queue was full.
	Dropped uint64 `json:"dropped"`
	// Commands counts command messages received.
	Commands uint64 `json:"commands"`
	// Writes counts variables written and verified.
	Writes uint64 `json:"writes"`
	// Refused counts variables refused before anything was written, the
	// rate-limited ones included; each is in the audit trail.
	Refused uint64 `json:"refused"`
	// RateLimited counts the variables of Refused refused by a write rate
	// limit (Options.WriteLimits).
	RateLimited uint64 `json:"rate_limited"`
	// Failed counts variables whose write failed or was not attempted.
	Failed uint64 `json:"failed"`
	// LastError is the latest connection or publication error.
	LastError string `json:"last_error,omitempty"`
}

// New returns a bridge for the slaves of s, executing writes through w
// (usually a DeviceWriter; w may be nil only when no slave has
// mqttSubscriptions). s must have been validated (settings.Load does it),
// must have an mqtt section and must not change while the bridge exists. o
// is validated and defaulted here; TLS files are read here, so a bad CA file
// fails New, not Run.
func New(s *settings.Settings, w Writer, o Options) (*Bridge, error) {
	if s == nil || s.MQTT == nil {
		return nil, errors.New("mqtt bridge: SETTINGS has no mqtt section")
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt bridge options: %w", err)
	}
	o.defaults()
	u, err := BrokerURL(s.MQTT.Host)
	if err != nil {
		return nil, fmt.Errorf("mqtt bridge: %w", err)
	}
	b := &Bridge{s: s, w: w, o: o, log: o.Logger.With("mqtt", redact(u)), url: u,
		pubTopics: map[string]bool{}, pubq: make(chan outMsg, o.QueueSize), cmdq: make(chan inMsg, o.CommandQueue)}
	if isTLS(u) {
		if b.tls, err = o.tlsConfig(u); err != nil {
			return nil, fmt.Errorf("mqtt bridge: %w", err)
		}
	}
	b.clientID = s.MQTT.ClientID
	if b.clientID == "" {
		b.clientID = o.ClientID
	}
	if b.clientID == "" {
		host, _ := os.Hostname()
		b.clientID = "gridedge-" + host
	}
	b.audit = newAudit(o.AuditSize, o.AuditFile, b.log)
	b.limits = newLimiter(s, o.WriteLimits)
	byFilter := map[string]int{}
	for i := range s.ModbusSlaves {
		sl := &s.ModbusSlaves[i]
		vars := s.ModbusMaps[sl.Map]
		st := &slaveState{vars: make(map[string]*settings.Variable, len(vars)), values: map[string]any{}}
		names := make([]string, 0, len(vars))
		for j := range vars {
			st.vars[vars[j].Name] = &vars[j]
			names = append(names, vars[j].Name)
		}
		st.render = newRenderer(names)
		b.slaves = append(b.slaves, st)
		for _, p := range sl.MQTTPublications {
			if _, ok := s.MQTTMessages[p.MessageBase]; !ok {
				return nil, fmt.Errorf("mqtt bridge: modbusSlaves[%d]: messageBase %q is not in mqttMessages", i, p.MessageBase)
			}
			b.pubTopics[p.Topic] = true
		}
		for _, f := range sl.MQTTSubscriptions {
			if w == nil {
				return nil, fmt.Errorf("mqtt bridge: modbusSlaves[%d] has mqttSubscriptions but no Writer was given", i)
			}
			if !validFilter(f) {
				return nil, fmt.Errorf("mqtt bridge: modbusSlaves[%d]: %q is not a valid MQTT topic filter", i, f)
			}
			k, ok := byFilter[f]
			if !ok {
				k = len(b.filters)
				byFilter[f] = k
				b.filters = append(b.filters, subscription{filter: f})
			}
			b.filters[k].slaves = append(b.filters[k].slaves, i)
		}
	}
	return b, nil
}

// redact returns the broker URL without user information, for logs.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	b.errMu.Lock()
	last := b.lastErr
	b.errMu.Unlock()
	return Stats{Connected: b.connected.Load(), Subscribed: b.subscribed.Load(), Published: b.st.published.Load(), PublishErrors: b.st.publishErrors.Load(),
		Dropped: b.st.dropped.Load(), Commands: b.st.commands.Load(), Writes: b.st.writes.Load(),
		Refused: b.st.refused.Load(), RateLimited: b.st.rateLimited.Load(), Failed: b.st.failed.Load(), LastError: last}
}

// AuditLog returns the latest audit entries (at most Options.AuditSize),
// oldest first.
func (b *Bridge) AuditLog() []AuditEntry { return b.audit.entries() }

func (b *Bridge) setErr(err error) {
	b.errMu.Lock()
	b.lastErr = err.Error()
	b.errMu.Unlock()
}

// Publish renders the publications of slave (its index in SETTINGS
// modbusSlaves) with the measurements of u and queues them. It never blocks:
// when the queue is full the oldest queued message is dropped and counted.
// Call it after every poll cycle, also when the bridge is not connected (or
// not running yet); it is safe for concurrent use. Updates of slaves without
// mqttPublications are ignored, and so are fields of u.Set other than
// measurements.<name>.
func (b *Bridge) Publish(slave int, u model.Update) {
	if slave < 0 || slave >= len(b.slaves) {
		b.log.Debug("publish for an unknown slave ignored", "slave", slave)
		return
	}
	pubs := b.s.ModbusSlaves[slave].MQTTPublications
	st := b.slaves[slave]
	st.mu.Lock()
	for k, x := range u.Set {
		name, ok := strings.CutPrefix(k, model.MeasurementsPrefix)
		if !ok {
			continue
		}
		var m model.Measurement
		switch y := x.(type) {
		case model.Measurement:
			m = y
		case *model.Measurement:
			m = *y
		default:
			continue
		}
		if m.Quality == model.QualityBad {
			st.values[name] = nil
		} else {
			st.values[name] = m.Value
		}
	}
	if len(pubs) == 0 {
		st.mu.Unlock()
		return
	}
	ts := u.TS
	if ts.IsZero() {
		ts = b.o.Now()
	}
	out := make([]outMsg, 0, len(pubs))
	for _, p := range pubs {
		msg := st.render.render(b.s.MQTTMessages[p.MessageBase], p.MessageExtras, st.values, ts)
		data, err := json.Marshal(msg)
		if err != nil {
			b.log.Error("publication not rendered", "topic", p.Topic, "err", err)
			continue
		}
		out = append(out, outMsg{topic: p.Topic, payload: data})
	}
	st.mu.Unlock()
	for _, m := range out {
		b.enqueue(m)
	}
}

// enqueue queues m, dropping the oldest queued message when full.
func (b *Bridge) enqueue(m outMsg) {
	for {
		select {
		case b.pubq <- m:
			return
		default:
		}
		select {
		case old := <-b.pubq:
			b.st.dropped.Add(1)
			b.log.Debug("publication queue full; dropped the oldest", "topic", old.topic)
		default:
		}
	}
}

// Run connects to the broker (retrying with backoff until ctx is done),
// subscribes to the slaves' mqttSubscriptions after every (re)connection,
// sends queued publications and executes write commands one at a time, until
// ctx is done. It then disconnects and returns nil once its goroutines have
// ended; publications still queued are dropped. Run may be called once.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("mqtt bridge: Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{b.url},
		TlsCfg:                        b.tls,
		KeepAlive:                     uint16(min(max(b.o.KeepAlive.Std()/time.Second, 1), 65535)),
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              backoff(b.o.BackoffMin.Std(), b.o.BackoffMax.Std()),
		ConnectTimeout:                b.o.ConnectTimeout.Std(),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			b.connected.Store(true)
			b.log.Info("connected to MQTT broker", "client_id", b.clientID)
			wg.Go(func() { b.subscribe(ctx, cm) })
		},
		OnConnectionDown: func() bool {
			b.connected.Store(false)
			b.subscribed.Store(false)
			b.log.Warn("MQTT broker connection lost; reconnecting")
			return true
		},
		OnConnectError: func(err error) {
			b.setErr(err)
			var ce *autopaho.ConnackError
			if errors.As(err, &ce) {
				b.log.Error("MQTT broker refused the connection", "reason_code", ce.ReasonCode, "reason", ce.Reason, "err", err)
				return
			}
			b.log.Warn("MQTT broker connection attempt failed", "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          b.clientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){b.received},
			OnClientError:     func(err error) { b.setErr(err); b.log.Warn("MQTT client error", "err", err) },
		},
	}
	if c := b.s.MQTT.Credentials; c != nil {
		cfg.ConnectUsername = c.Username
		cfg.ConnectPassword = []byte(c.Password)
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return fmt.Errorf("mqtt bridge %s: %w", redact(b.url), err)
	}
	wg.Go(func() { b.publishLoop(ctx, cm) })
	wg.Go(func() { b.commandLoop(ctx) })
	<-ctx.Done()
	<-cm.Done() // autopaho disconnects when ctx ends
	b.connected.Store(false)
	b.subscribed.Store(false)
	return nil
}

// backoff is a randomised exponential backoff: nothing before the first
// attempt, then between half and all of lo·2^(n-1), capped at hi.
func backoff(lo, hi time.Duration) autopaho.Backoff {
	return func(attempt int) time.Duration {
		if attempt <= 0 {
			return 0
		}
		d := lo
		for i := 1; i < attempt && d < hi; i++ {
			d *= 2
		}
		d = min(d, hi)
		return d/2 + rand.N(d/2+1)
	}
}

// subscribe subscribes to every command filter with No Local (our own
// error reports never come back) and without retained messages (a retained
// command is not replayed on every reconnection).
func (b *Bridge) subscribe(ctx context.Context, cm *autopaho.ConnectionManager) {
	if len(b.filters) == 0 {
		return
	}
	sub := &paho.Subscribe{}
	for _, f := range b.filters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{
			Topic: f.filter, QoS: b.o.qos(), NoLocal: true, RetainHandling: 2})
	}
	sctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	ack, err := cm.Subscribe(sctx, sub)
	if err != nil {
		if ctx.Err() == nil {
			b.setErr(err)
			b.log.Error("MQTT subscribe failed; will retry on reconnection", "err", err)
		}
		return
	}
	for i, rc := range ack.Reasons {
		if rc >= 0x80 && i < len(b.filters) {
			b.log.Error("MQTT broker refused a subscription", "topic", b.filters[i].filter, "reason_code", rc)
		}
	}
	b.subscribed.Store(true)
	b.log.Info("subscribed to command topics", "topics", len(b.filters))
}

// publishLoop sends queued messages while connected.
func (b *Bridge) publishLoop(ctx context.Context, cm *autopaho.ConnectionManager) {
	for {
		var m outMsg
		select {
		case <-ctx.Done():
			return
		case m = <-b.pubq:
		}
		if cm.AwaitConnection(ctx) != nil {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		_, err := cm.Publish(pctx, &paho.Publish{Topic: m.topic, QoS: b.o.qos(), Retain: b.o.Retain, Payload: m.payload})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.st.publishErrors.Add(1)
			b.setErr(err)
			b.log.Warn("MQTT publish failed", "topic", m.topic, "err", err)
			continue
		}
		b.st.published.Add(1)
	}
}

// received is paho's callback for incoming messages: it must not block, so
// it queues the command (or refuses it when the queue is full).
func (b *Bridge) received(pr paho.PublishReceived) (bool, error) {
	topic := pr.Packet.Topic
	if strings.HasSuffix(topic, b.o.ErrorSuffix) || b.pubTopics[topic] {
		return true, nil
	}
	m := inMsg{topic: topic, payload: bytes.Clone(pr.Packet.Payload)}
	b.st.commands.Add(1)
	select {
	case b.cmdq <- m:
	default:
		b.refuseMessage(m, fmt.Errorf("%w (%d commands waiting)", ErrBusy, cap(b.cmdq)))
	}
	return true, nil
}

func (b *Bridge) commandLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-b.cmdq:
			b.handle(ctx, m)
		}
	}
}

// handle executes one command message for every slave its topic commands.
func (b *Bridge) handle(ctx context.Context, m inMsg) {
	slaves := b.slavesFor(m.topic)
	if len(slaves) == 0 {
		return
	}
	as, err := ParseCommand(m.payload)
	if err != nil {
		b.refuseMessage(m, err)
		return
	}
	for _, i := range slaves {
		for _, r := range b.Apply(ctx, "mqtt:"+m.topic, i, as) {
			if r.Err != nil {
				b.reportError(m.topic, r.Variable, r.Value, r.Err)
			}
		}
	}
}

// refuseMessage audits and reports a message refused as a whole.
func (b *Bridge) refuseMessage(m inMsg, err error) {
	var value any = string(m.payload)
	if json.Valid(m.payload) {
		value = json.RawMessage(m.payload)
	}
	slaves := b.slavesFor(m.topic)
	if len(slaves) == 0 {
		slaves = []int{-1}
	}
	for _, i := range slaves {
		e := AuditEntry{Time: b.o.Now().UTC(), Source: "mqtt:" + m.topic, Slave: i, SlaveID: b.slaveID(i),
			Value: value, Result: ResultRefused, Error: err.Error()}
		b.audit.add(e)
		b.st.refused.Add(1)
	}
	b.reportError(m.topic, "", value, err)
}

func (b *Bridge) slaveID(i int) int {
	if i < 0 || i >= len(b.s.ModbusSlaves) {
		return -1
	}
	return b.s.ModbusSlaves[i].SlaveID
}

// ErrorReport is what the bridge publishes on <topic>/error for every
// variable of a command that was not written.
type ErrorReport struct {
	// Topic is the command's topic.
	Topic string `json:"topic"`
	// Variable is the variable's name ("" when the payload could not be parsed).
	Variable string `json:"variable"`
	// Value is the value as sent (the payload as a string when it could not be parsed).
	Value any `json:"value"`
	// Error is the reason.
	Error string `json:"error"`
	// Time is when the command was handled (ISO 8601, UTC, milliseconds).
	Time string `json:"time"`
}

func (b *Bridge) reportError(topic, variable string, value any, err error) {
	b.log.Warn("MQTT command not executed", "topic", topic, "variable", variable, "value", jsonSafe(value), "err", err)
	data, merr := json.Marshal(ErrorReport{Topic: topic, Variable: variable, Value: jsonSafe(value),
		Error: err.Error(), Time: b.o.Now().UTC().Format(DateFormat)})
	if merr != nil {
		b.log.Error("error report not encoded", "err", merr)
		return
	}
	b.enqueue(outMsg{topic: topic + b.o.ErrorSuffix, payload: data})
}

// slavesFor returns the slaves whose mqttSubscriptions match topic.
func (b *Bridge) slavesFor(topic string) []int {
	var out []int
	for _, f := range b.filters {
		if matchTopic(f.filter, topic) {
			out = append(out, f.slaves...)
		}
	}
	return out
}

// Assignment is one variable of a write command.
type Assignment struct {
	// Variable names a variable of the slave's map.
	Variable string
	// Value is the engineering value to write.
	Value any
}

// Result is the outcome of one Assignment.
type Result struct {
	// Variable is the variable's name.
	Variable string
	// Value is the value requested.
	Value any
	// Old and New are the values read before and after the write (nil when
	// not read).
	Old, New any
	// Err is nil when the value was written and verified.
	Err error
}

// ParseCommand parses a command payload: a JSON object of variable names and
// values, in the order given. Numbers become json.Number, so that 64-bit
// integers keep every digit. An empty object, a repeated name, or anything
// but one JSON object is ErrBadMessage.
func ParseCommand(payload []byte) ([]Assignment, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: want a JSON object of variable values", ErrBadMessage)
	}
	var as []Assignment
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
		name := tok.(string) // object keys are strings
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: value of %q: %v", ErrBadMessage, name, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: variable %q given twice", ErrBadMessage, name)
		}
		seen[name] = true
		as = append(as, Assignment{Variable: name, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadMessage)
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("%w: no variable in the command", ErrBadMessage)
	}
	return as, nil
}

// Apply executes a write command on slave (its index in SETTINGS
// modbusSlaves): every assignment is checked first (variable in the slave's
// map, CheckWrite, then the write rate limits of Options.WriteLimits, which
// take one token per variable only when the whole command may go) and, if
// any is refused, nothing is written; otherwise the
// variables are written in order through the Writer, each within
// Options.WriteTimeout, and those after a failed write are skipped. Every
// assignment is recorded in the audit trail with source (e.g. "mqtt:<topic>"
// or "nats:<subject>"). The results are in the order of as. Apply is how the
// bridge executes MQTT commands; other command paths of the agent may use it
// to share the checks and the audit trail. Calls are not serialised: the
// Bus serialises device access.
func (b *Bridge) Apply(ctx context.Context, source string, slave int, as []Assignment) []Result {
	rs := make([]Result, len(as))
	for i, a := range as {
		rs[i] = Result{Variable: a.Variable, Value: a.Value}
	}
	if slave < 0 || slave >= len(b.slaves) || b.w == nil {
		for i := range rs {
			if b.w == nil {
				rs[i].Err = fmt.Errorf("%s: %w (the bridge has no writer)", rs[i].Variable, ErrNotWritable)
			} else {
				rs[i].Err = fmt.Errorf("%w: %d", ErrSlave, slave)
			}
		}
		b.record(source, slave, rs, ResultRefused)
		return rs
	}
	st := b.slaves[slave]
	vars := make([]*settings.Variable, len(as))
	var refused []string
	for i, a := range as {
		v, ok := st.vars[a.Variable]
		if !ok {
			rs[i].Err = fmt.Errorf("%s: %w (not in map %s)", a.Variable, ErrUnknownVariable, b.s.ModbusSlaves[slave].Map)
		} else if err := CheckWrite(b.s, slave, v, a.Value); err != nil {
			rs[i].Err = err
		}
		if rs[i].Err != nil {
			refused = append(refused, a.Variable)
		}
		vars[i] = v
	}
	if len(refused) > 0 {
		for i := range rs {
			if rs[i].Err == nil {
				rs[i].Err = fmt.Errorf("%w (%s)", ErrMessageRefused, strings.Join(refused, ", "))
			}
		}
		b.record(source, slave, rs, ResultRefused)
		return rs
	}
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.Variable
	}
	if errs := b.limits.take(b.o.Now(), slave, names); errs != nil {
		for i := range rs {
			rs[i].Err = errs[i]
		}
		b.record(source, slave, rs, ResultRefused)
		return rs
	}
	results := make([]string, len(rs))
	var failed string
	for i := range rs {
		if failed != "" {
			rs[i].Err = fmt.Errorf("%w (%s)", ErrSkipped, failed)
			results[i] = ResultSkipped
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, b.o.WriteTimeout.Std())
		rs[i].Old, rs[i].New, rs[i].Err = b.w.Write(wctx, slave, vars[i], as[i].Value)
		cancel()
		results[i] = ResultOK
		if rs[i].Err != nil {
			results[i] = ResultFailed
			failed = rs[i].Variable
		}
	}
	for i := range rs {
		b.recordOne(source, slave, rs[i], results[i])
	}
	return rs
}

func (b *Bridge) record(source string, slave int, rs []Result, result string) {
	for _, r := range rs {
		b.recordOne(source, slave, r, result)
	}
}

func (b *Bridge) recordOne(source string, slave int, r Result, result string) {
	e := AuditEntry{Time: b.o.Now().UTC(), Source: source, Slave: slave, SlaveID: b.slaveID(slave),
		Variable: r.Variable, Value: r.Value, Old: r.Old, New: r.New, Result: result}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	b.audit.add(e) // before counting: a count never runs ahead of AuditLog
	switch result {
	case ResultOK:
		b.st.writes.Add(1)
	case ResultRefused:
		if errors.Is(r.Err, ErrRateLimited) {
			b.st.rateLimited.Add(1)
		}
		b.st.refused.Add(1)
	default:
		b.st.failed.Add(1)
	}
}

// validFilter reports whether f is a valid MQTT topic filter.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

// matchTopic reports whether topic matches filter (MQTT wildcards + and #).
func matchTopic(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true
		}
		if i >= len(ts) {
			return false
		}
		if f != "+" && f != ts[i] {
			return false
		}
	}
	return len(fs) == len(ts)
}
