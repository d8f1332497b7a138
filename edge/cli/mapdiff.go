package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/control"
)

// Slave states in a map diff.
const (
	diffAdded     = "added"
	diffRemoved   = "removed"
	diffChanged   = "changed"
	diffUnchanged = "unchanged"
)

// mapDiff is what changes from one SETTINGS document to another, per slave:
// the variables a slave polls are those of the map it names, so a change
// to a map shows on every slave that uses it.
type mapDiff struct {
	// Slaves lists every slave of either document, in the new document's
	// order, then the removed ones.
	Slaves []slaveDiff `json:"slaves"`
	// Settings lists changes outside the slaves: period, logLevel, mqtt,
	// mqttMessages, and maps no slave uses.
	Settings []string `json:"settings,omitempty"`
}

// slaveDiff is the change of one slave.
type slaveDiff struct {
	// Slave identifies the device: host:port/unit or serial port/unit,
	// with the protocol when it is not the default.
	Slave string `json:"slave"`
	// Map is the map the slave uses (in the new document, unless removed).
	Map string `json:"map"`
	// Status is added, removed, changed or unchanged.
	Status string `json:"status"`
	// Fields are changes of the slave's own settings ("period: 1 -> 2").
	Fields []string `json:"fields,omitempty"`
	// Added and Removed are the names of variables the slave gains or loses.
	Added []string `json:"added,omitempty"`
	// Removed: see Added.
	Removed []string `json:"removed,omitempty"`
	// Changed are variables whose definition changes.
	Changed []variableChange `json:"changed,omitempty"`
}

// variableChange is one variable whose definition changes.
type variableChange struct {
	// Name is the variable's name.
	Name string `json:"name"`
	// Fields say what changes, "datatype: 16uint -> 32float".
	Fields []string `json:"fields"`
}

// Changed reports whether anything differs.
func (d *mapDiff) Changed() bool {
	if len(d.Settings) > 0 {
		return true
	}
	return slices.ContainsFunc(d.Slaves, func(s slaveDiff) bool { return s.Status != diffUnchanged })
}

// slaveKey names a slave by where it is reached and its unit id.
func slaveKey(sl *settings.Slave) string {
	var where string
	if sl.IP != "" {
		port := sl.Port
		if port == 0 {
			port = 502
		}
		host := sl.IP
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		where = fmt.Sprintf("%s:%d", host, port)
	} else {
		where = sl.SerialPort
	}
	if sl.Protocol != "" && sl.Protocol != "tcp" && !(sl.IP == "" && sl.Protocol == "rtu") {
		where = sl.Protocol + "://" + where
	}
	return fmt.Sprintf("%s/%d", where, sl.SlaveID)
}

// fieldsOf flattens a value to its JSON fields, for comparing field by field.
func fieldsOf(v any) map[string]string {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]string{"": fmt.Sprintf("unencodable: %v", err)}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]string{"": string(b)}
	}
	out := make(map[string]string, len(m))
	for k, raw := range m {
		out[k] = string(raw)
	}
	return out
}

// fieldChanges lists "field: old -> new" for every JSON field that differs,
// sorted by field name; skip names fields left out.
func fieldChanges(old, new any, skip ...string) []string {
	a, b := fieldsOf(old), fieldsOf(new)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if slices.Contains(skip, k) || a[k] == b[k] {
			continue
		}
		from, to := a[k], b[k]
		if from == "" {
			from = "(unset)"
		}
		if to == "" {
			to = "(unset)"
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s", k, from, to))
	}
	return out
}

// diffVariables compares two lists of variables by name.
func diffVariables(old, new []settings.Variable) (added, removed []string, changed []variableChange) {
	byName := func(vs []settings.Variable) map[string]*settings.Variable {
		m := make(map[string]*settings.Variable, len(vs))
		for i := range vs {
			m[vs[i].Name] = &vs[i]
		}
		return m
	}
	o, n := byName(old), byName(new)
	for _, v := range new {
		ov, ok := o[v.Name]
		if !ok {
			added = append(added, v.Name)
			continue
		}
		if fs := fieldChanges(ov, &v); len(fs) > 0 {
			changed = append(changed, variableChange{Name: v.Name, Fields: fs})
		}
	}
	for _, v := range old {
		if _, ok := n[v.Name]; !ok {
			removed = append(removed, v.Name)
		}
	}
	return added, removed, changed
}

// keyedSlaves indexes slaves by slaveKey, keeping the order; a key seen
// twice gets "#2", "#3"... so that no slave is lost.
func keyedSlaves(s *settings.Settings) ([]string, map[string]*settings.Slave) {
	var keys []string
	m := map[string]*settings.Slave{}
	for i := range s.ModbusSlaves {
		k := slaveKey(&s.ModbusSlaves[i])
		for n := 2; m[k] != nil; n++ {
			k = fmt.Sprintf("%s#%d", slaveKey(&s.ModbusSlaves[i]), n)
		}
		keys = append(keys, k)
		m[k] = &s.ModbusSlaves[i]
	}
	return keys, m
}

// redactSecrets returns s with the MQTT password replaced by
// control.Redacted (as map.get returns it), and the password it had.
func redactSecrets(s *settings.Settings) (*settings.Settings, string) {
	if s.MQTT == nil || s.MQTT.Credentials == nil || s.MQTT.Credentials.Password == "" {
		return s, ""
	}
	c := *s
	m := *s.MQTT
	cred := *s.MQTT.Credentials
	pw := cred.Password
	cred.Password = control.Redacted
	m.Credentials, c.MQTT = &cred, &m
	return &c, pw
}

// diffSettings compares two SETTINGS documents slave by slave. Secrets are
// never printed: the MQTT password is compared apart, and a running map's
// password (redacted by map.get) is not compared at all.
func diffSettings(old, new *settings.Settings) mapDiff {
	var d mapDiff
	old, oldPW := redactSecrets(old)
	new, newPW := redactSecrets(new)
	if oldPW != newPW && oldPW != control.Redacted {
		d.Settings = append(d.Settings, "mqtt.credentials.password: changed")
	}
	oldKeys, oldSlaves := keyedSlaves(old)
	newKeys, newSlaves := keyedSlaves(new)
	usedOld, usedNew := map[string]bool{}, map[string]bool{}
	type varDiff struct {
		added, removed []string
		changed        []variableChange
	}
	byMaps := map[[2]string]varDiff{}
	for _, k := range newKeys {
		ns := newSlaves[k]
		usedNew[ns.Map] = true
		sd := slaveDiff{Slave: k, Map: ns.Map}
		prev, ok := oldSlaves[k]
		if !ok {
			sd.Status = diffAdded
			for _, v := range new.ModbusMaps[ns.Map] {
				sd.Added = append(sd.Added, v.Name)
			}
			d.Slaves = append(d.Slaves, sd)
			continue
		}
		sd.Fields = fieldChanges(prev, ns)
		// slaves share maps: compare each pair of maps once
		pair := [2]string{prev.Map, ns.Map}
		vd, ok := byMaps[pair]
		if !ok {
			vd.added, vd.removed, vd.changed = diffVariables(old.ModbusMaps[prev.Map], new.ModbusMaps[ns.Map])
			byMaps[pair] = vd
		}
		sd.Added, sd.Removed, sd.Changed = vd.added, vd.removed, vd.changed
		sd.Status = diffUnchanged
		if len(sd.Fields)+len(sd.Added)+len(sd.Removed)+len(sd.Changed) > 0 {
			sd.Status = diffChanged
		}
		d.Slaves = append(d.Slaves, sd)
	}
	for _, k := range oldKeys {
		prev := oldSlaves[k]
		usedOld[prev.Map] = true
		if _, ok := newSlaves[k]; ok {
			continue
		}
		sd := slaveDiff{Slave: k, Map: prev.Map, Status: diffRemoved}
		for _, v := range old.ModbusMaps[prev.Map] {
			sd.Removed = append(sd.Removed, v.Name)
		}
		d.Slaves = append(d.Slaves, sd)
	}
	d.Settings = append(d.Settings, fieldChanges(old, new, "modbusMaps", "modbusSlaves")...)
	// maps no slave uses change nothing that is polled, but are reported
	names := map[string]bool{}
	for n := range old.ModbusMaps {
		names[n] = true
	}
	for n := range new.ModbusMaps {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if usedOld[n] || usedNew[n] {
			continue
		}
		ov, inOld := old.ModbusMaps[n]
		nv, inNew := new.ModbusMaps[n]
		switch {
		case !inOld:
			d.Settings = append(d.Settings, fmt.Sprintf("modbusMaps.%s: added (no slave uses it)", n))
		case !inNew:
			d.Settings = append(d.Settings, fmt.Sprintf("modbusMaps.%s: removed (no slave used it)", n))
		default:
			if a, r, c := diffVariables(ov, nv); len(a)+len(r)+len(c) > 0 {
				d.Settings = append(d.Settings, fmt.Sprintf("modbusMaps.%s: changed (no slave uses it)", n))
			}
		}
	}
	return d
}

// print writes the diff for a reader: one block per slave that changes.
func (d *mapDiff) print(w *strings.Builder) {
	for _, s := range d.Slaves {
		if s.Status == diffUnchanged {
			continue
		}
		fmt.Fprintf(w, "slave %s (map %s): %s\n", s.Slave, s.Map, s.Status)
		for _, f := range s.Fields {
			fmt.Fprintf(w, "  ~ slave %s\n", f)
		}
		for _, n := range s.Added {
			fmt.Fprintf(w, "  + %s\n", n)
		}
		for _, n := range s.Removed {
			fmt.Fprintf(w, "  - %s\n", n)
		}
		for _, c := range s.Changed {
			fmt.Fprintf(w, "  ~ %s: %s\n", c.Name, strings.Join(c.Fields, ", "))
		}
	}
	for _, s := range d.Settings {
		fmt.Fprintf(w, "settings: %s\n", s)
	}
	unchanged := 0
	for _, s := range d.Slaves {
		if s.Status == diffUnchanged {
			unchanged++
		}
	}
	if !d.Changed() {
		fmt.Fprintf(w, "no changes (%d slaves)\n", len(d.Slaves))
	} else if unchanged > 0 {
		fmt.Fprintf(w, "%d slave(s) unchanged\n", unchanged)
	}
}
