// Package control is the edge control protocol: the JSON requests and
// replies exchanged on <domain>.edge.<edge>.<action> (see
// subject.EdgeControlActions) between an operator's CLI (through the hub's
// NATS and the leaf link) and an edge agent, and on <domain>.fleet.list and
// <domain>.fleet.status.<edge> between the CLI and the hub.
//
// Every action is NATS request/reply with a JSON body. Every reply carries
// "error" (an *Error with a stable Code) when the action failed; a reply
// without "error" succeeded. A request that gets no reply (nats.ErrNoResponders
// or a timeout) means the edge is offline or its leaf link is down.
//
// The SETTINGS document travels as raw JSON (json.RawMessage): the hub and
// this package never interpret it, only the agent (edge/settings) does.
//
// map.push and map.rollback are signed with an operator's ed25519 key, an
// NATS nkey (see Sign and Verify); the agent accepts only keys listed in its
// config (control.trustedKeys).
//
// Map versions are content hashes of the canonical SETTINGS document (see
// MapVersion): the same document has the same version on every edge,
// whatever its whitespace or key order.
package control

import (
	"encoding/json"
	"time"
)

// PushRequest is the body of map.push.
type PushRequest struct {
	// Edge is the edge the push is meant for. It is signed, so a push cannot
	// be replayed on another edge; the agent refuses a request whose Edge is
	// not its own (CodeWrongEdge).
	Edge string `json:"edge"`
	// Settings is a SETTINGS document (edge/settings): the whole document,
	// or with Partial only the parts it changes.
	Settings json.RawMessage `json:"settings"`
	// Partial says Settings holds only what changes: each entry of its
	// "modbusMaps" replaces (or adds) the map of that name; its
	// "modbusSlaves", when present, replace the slave list; "period",
	// "logLevel", "mqttMessages" and "mqtt", when present, replace theirs.
	// An entry of "modbusMaps" whose value is null removes that map. The
	// merged document is validated as a whole.
	Partial bool `json:"partial,omitempty"`
	// DryRun validates the document and reads each new or changed variable
	// once, returning the decoded values in PushReply.DryRun, without
	// applying anything.
	DryRun bool `json:"dryRun,omitempty"`
	// Pusher is who pushes: an operator's name or e-mail. It is signed,
	// kept with the applied map and shown in heartbeats and system/edges.
	Pusher string `json:"pusher"`
	// IssuedAt is when the request was signed. The agent refuses requests
	// older than its control.maxSignatureAge (default 15m) or more than a
	// minute in the future (CodeExpired), which bounds replays.
	IssuedAt time.Time `json:"issuedAt"`
	// Confirm makes the agent reply only after the new map's first cycles
	// (control.confirmCycles, default 3) ran, or after an automatic rollback,
	// so that PushReply.Result is "confirmed" or "rolled_back". The agent
	// waits at most control.confirmTimeout (default 30s); the caller's NATS
	// request timeout must be longer than that. Without Confirm the reply
	// comes right after the swap with Result "applied", and a later
	// automatic rollback shows in the heartbeat (Status.Map.RolledBack).
	Confirm bool `json:"confirm,omitempty"`
	// Signature signs the request (see Sign). Required.
	Signature *Signature `json:"signature,omitempty"`
}

// Push results, PushReply.Result.
const (
	// ResultApplied: the new map runs; it was not (yet) confirmed.
	ResultApplied = "applied"
	// ResultConfirmed: the new map runs and its first cycles passed.
	ResultConfirmed = "confirmed"
	// ResultRolledBack: the new map was applied, its first cycles failed on
	// slaves that answered under the previous map, and the previous map runs
	// again (PushReply.RolledBack says why).
	ResultRolledBack = "rolled_back"
	// ResultUnchanged: the pushed document has the version that runs; nothing was done.
	ResultUnchanged = "unchanged"
	// ResultDryRun: nothing was applied; PushReply.DryRun holds the readings.
	ResultDryRun = "dry_run"
	// ResultRefused: the push was refused; PushReply.Error says why.
	ResultRefused = "refused"
)

// PushReply is the reply of map.push.
type PushReply struct {
	// Edge is the answering edge.
	Edge string `json:"edge"`
	// Result is one of the Result* constants.
	Result string `json:"result"`
	// Version is the map version running after the request.
	Version string `json:"version,omitempty"`
	// Previous is the map version that ran before (kept for map.rollback).
	Previous string `json:"previous,omitempty"`
	// Pushed is the version of the pushed (merged) document, also for dry
	// runs and refusals after validation.
	Pushed string `json:"pushed,omitempty"`
	// Changes summarise the difference to the running map.
	Changes *Changes `json:"changes,omitempty"`
	// DryRun holds one reading per new or changed variable (dry runs only).
	DryRun []Reading `json:"dryRun,omitempty"`
	// RolledBack explains an automatic rollback (Result "rolled_back").
	RolledBack *Rollback `json:"rolledBack,omitempty"`
	// Error is set when the push was refused.
	Error *Error `json:"error,omitempty"`
}

// Changes summarise a new map against the running one, by slave. Slaves
// are keyed "<index>:<url>#<slaveId>" (url as the agent's slave URL, e.g.
// tcp://10.0.0.5:502) so two slaves behind one gateway are told apart.
type Changes struct {
	// Added are slaves the running map did not have.
	Added []string `json:"added,omitempty"`
	// Removed are slaves the new map no longer has.
	Removed []string `json:"removed,omitempty"`
	// Changed are slaves whose settings or variables changed; they restart
	// their schedule.
	Changed []string `json:"changed,omitempty"`
	// Kept is the number of unchanged slaves: they keep their connection
	// and their schedule.
	Kept int `json:"kept"`
}

// Rollback describes an automatic or requested rollback.
type Rollback struct {
	// From is the version that was replaced.
	From string `json:"from"`
	// To is the version restored.
	To string `json:"to"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Reason says why, e.g. "slave 0:tcp://10.0.0.5:502#1 failed its first 3 cycles: …".
	Reason string `json:"reason"`
	// Automatic is true when the agent rolled back on its own.
	Automatic bool `json:"automatic"`
}

// RollbackRequest is the body of map.rollback: restore the map that ran
// before the last applied one. Signed like a push.
type RollbackRequest struct {
	// Edge is the edge the request is meant for (signed).
	Edge string `json:"edge"`
	// Pusher is who asks (signed).
	Pusher string `json:"pusher"`
	// IssuedAt is when the request was signed (see PushRequest.IssuedAt).
	IssuedAt time.Time `json:"issuedAt"`
	// Signature signs the request. Required.
	Signature *Signature `json:"signature,omitempty"`
}

// RollbackReply is the reply of map.rollback.
type RollbackReply struct {
	// Edge is the answering edge.
	Edge string `json:"edge"`
	// Version is the map version running after the rollback.
	Version string `json:"version,omitempty"`
	// Previous is the version that was rolled back (now the one a further
	// rollback would restore).
	Previous string `json:"previous,omitempty"`
	// Error is set on failure (CodeNoPrevious when there is nothing to restore).
	Error *Error `json:"error,omitempty"`
}

// MapGetRequest is the body of map.get; an empty body is the same.
type MapGetRequest struct {
	// Previous asks for the kept previous map instead of the running one.
	Previous bool `json:"previous,omitempty"`
}

// MapGetReply is the reply of map.get.
type MapGetReply struct {
	// Edge is the answering edge.
	Edge string `json:"edge"`
	// Map describes the map (version, pusher, when).
	Map MapInfo `json:"map"`
	// Settings is the whole SETTINGS document, as the agent runs it.
	Settings json.RawMessage `json:"settings,omitempty"`
	// Error is set on failure.
	Error *Error `json:"error,omitempty"`
}

// MapInfo describes the map an edge runs. Agents put it in every
// heartbeat as "map".
type MapInfo struct {
	// Version is the map's content hash (MapVersion).
	Version string `json:"version"`
	// Pusher is who pushed it; "" for the map of the agent's config file.
	Pusher string `json:"pusher,omitempty"`
	// Key is the public nkey that signed it; "" for the config file's map.
	Key string `json:"key,omitempty"`
	// AppliedAt is when it was applied.
	AppliedAt time.Time `json:"appliedAt"`
	// Source is "config" (the settings of the agent's config file) or
	// "push" (a pushed map persisted in the agent's data dir).
	Source string `json:"source"`
	// Previous is the version map.rollback restores ("" when none is kept).
	Previous string `json:"previous,omitempty"`
	// Confirmed is true once the map's first cycles passed (or there was
	// nothing to check).
	Confirmed bool `json:"confirmed"`
	// RolledBack is the last automatic or requested rollback, if any.
	RolledBack *Rollback `json:"rolledBack,omitempty"`
}

// Map sources, MapInfo.Source.
const (
	SourceConfig = "config"
	SourcePush   = "push"
)

// ConfigGetReply is the reply of config.get (the request body is empty).
type ConfigGetReply struct {
	// Edge is the answering edge.
	Edge string `json:"edge"`
	// Config is the agent's running config with every secret (passwords,
	// key files' contents, MQTT passwords) replaced by Redacted; its
	// "settings" is the running SETTINGS document.
	Config json.RawMessage `json:"config,omitempty"`
	// Map describes the running map.
	Map MapInfo `json:"map"`
	// Error is set on failure.
	Error *Error `json:"error,omitempty"`
}

// Redacted replaces secrets in config.get replies.
const Redacted = "*****"

// StatusReply is the reply of status: the heartbeat the agent would
// publish now (the same JSON as on <domain>.edge.<edge>.heartbeat).
type StatusReply = json.RawMessage

// ReadRequest is the body of read: one Modbus read through the edge.
// Either Variable names a variable of the slave's map (decoded as the map
// says), or Table and Address describe what to read, like `gridedge modbus
// read`.
type ReadRequest struct {
	// Slave is the 0-based index of the slave in the running SETTINGS'
	// modbusSlaves (its URL and unit id are the edge's).
	Slave int `json:"slave"`
	// Variable is the name of a variable of the slave's map.
	Variable string `json:"variable,omitempty"`
	// Table is the register table: holding, input, coil or discrete.
	Table string `json:"table,omitempty"`
	// Address is the 0-based address, or "register.bit".
	Address string `json:"address,omitempty"`
	// Datatype as in a SETTINGS map (default 16uint for registers, bool for bits).
	Datatype string `json:"datatype,omitempty"`
	// Datasize is the size of string and ignore values in registers.
	Datasize int `json:"datasize,omitempty"`
	// Order is the byte and word order (default the slave's).
	Order string `json:"order,omitempty"`
	// Count is the number of consecutive values (default 1, at most 125).
	Count int `json:"count,omitempty"`
}

// ReadReply is the reply of read.
type ReadReply struct {
	// Edge is the answering edge.
	Edge string `json:"edge"`
	// Values are the decoded values, Count of them.
	Values []any `json:"values,omitempty"`
	// Error is set on failure (CodeModbus for a device error or timeout).
	Error *Error `json:"error,omitempty"`
}

// WriteRequest is the body of write: one Modbus write through the edge,
// under the rules of MQTT writes: only variables marked "writable": true,
// within their min and max, rate-limited per variable.
type WriteRequest struct {
	// Slave is the 0-based index of the slave in modbusSlaves.
	Slave int `json:"slave"`
	// Variable is the name of a writable variable of the slave's map.
	Variable string `json:"variable"`
	// Value is the engineering value: a number, a string, a bool, or a
	// translation's label.
	Value any `json:"value"`
	// Pusher is who writes, for the audit log.
	Pusher string `json:"pusher,omitempty"`
}

// WriteReply is the reply of write.
type WriteReply struct {
	// Edge is the answering edge.
	Edge string `json:"edge"`
	// Value is the value read back after the write, when the device answered.
	Value any `json:"value,omitempty"`
	// Error is set on failure.
	Error *Error `json:"error,omitempty"`
}

// Reading is one variable read during a dry run.
type Reading struct {
	// Slave is the slave key (see Changes).
	Slave string `json:"slave"`
	// Variable is the variable's name.
	Variable string `json:"variable"`
	// Value is the decoded value (absent on error).
	Value any `json:"value,omitempty"`
	// Error is why the variable could not be read.
	Error string `json:"error,omitempty"`
}

// Fleet edge states, EdgeSummary.State.
const (
	// StateOnline: a heartbeat arrived within 3 heartbeat intervals.
	StateOnline = "online"
	// StateOffline: the last heartbeat is older than 3 intervals.
	StateOffline = "offline"
)

// EdgeSummary is the hub's view of one edge: what `gridedge fleet ls`
// shows and what system/edges documents hold besides the raw heartbeat.
type EdgeSummary struct {
	// Edge is the edge id.
	Edge string `json:"edge"`
	// State is StateOnline or StateOffline.
	State string `json:"state"`
	// LastSeen is when the hub received the last heartbeat.
	LastSeen time.Time `json:"lastSeen"`
	// Version is the agent's version.
	Version string `json:"version,omitempty"`
	// MapVersion is the version of the running map.
	MapVersion string `json:"mapVersion,omitempty"`
	// MapPusher is who pushed it ("" for the config file's map).
	MapPusher string `json:"mapPusher,omitempty"`
	// Uptime is the agent's uptime in seconds at the last heartbeat.
	Uptime float64 `json:"uptime"`
	// BufferDepth is the number of updates waiting in the edge's buffer.
	BufferDepth uint64 `json:"bufferDepth"`
	// OldestUnsentAge is the age in seconds of the oldest buffered update.
	OldestUnsentAge float64 `json:"oldestUnsentAge"`
	// SlavesUp counts slaves whose last poll succeeded.
	SlavesUp int `json:"slavesUp"`
	// SlavesTotal counts the slaves polled.
	SlavesTotal int `json:"slavesTotal"`
	// LastError is the most recent error a slave reported ("" when none).
	LastError string `json:"lastError,omitempty"`
	// RolledBack is the edge's last map rollback, if any.
	RolledBack *Rollback `json:"rolledBack,omitempty"`
	// Labels are the edge's labels (agent config edge.labels), e.g.
	// {"site": "north", "hw": "rpi4"}, for selecting edges.
	Labels map[string]string `json:"labels,omitempty"`
}

// FleetListReply is the reply of <domain>.fleet.list (empty request body).
type FleetListReply struct {
	// Edges are every edge the hub has a record of, sorted by id.
	Edges []EdgeSummary `json:"edges"`
	// Error is set on failure.
	Error *Error `json:"error,omitempty"`
}

// FleetStatusReply is the reply of <domain>.fleet.status.<edge> (empty
// request body).
type FleetStatusReply struct {
	// Edge summarises the edge.
	Edge EdgeSummary `json:"edge"`
	// Heartbeat is the edge's last heartbeat, unchanged.
	Heartbeat json.RawMessage `json:"heartbeat,omitempty"`
	// Hub holds what the hub applied for the edge (batches, applied,
	// skipped, missing, dead_letters, last_seq, quarantined, refused).
	Hub map[string]any `json:"hub,omitempty"`
	// Error is set on failure (CodeNotFound for an edge the hub never heard of).
	Error *Error `json:"error,omitempty"`
}
