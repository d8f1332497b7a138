package iot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gridedge/gridedge/hub/store"
)

// Where the provisioning is kept: the hub's system layer (reserved: the
// REST API serves it to admins, it is never a data layer).
const (
	SystemLayer       = "system"
	GroupsCollection  = "iotgroups"
	DevicesCollection = "iotdevices"
)

type groupKey struct{ resource, apikey string }

type deviceKey struct{ service, id string }

// deviceEntry is a provisioned device and its credentials.
type deviceEntry struct {
	dev       Device
	tokenHash string // hex SHA-256 of the token; "" without token
	compiled  *compiled
}

// registry holds the config groups and devices: in memory for the
// readings, in the store (system layer) for restarts and for the other
// hubs sharing the store. Writes go to the store first, then to memory,
// under mu. Another hub's writes reach memory through sync (one document,
// on its change event) and resync (everything, now and then).
type registry struct {
	st store.Store

	mu      sync.RWMutex
	groups  map[groupKey]*Group
	devices map[deviceKey]*deviceEntry
	// gen counts the changes made to memory; a resync read while it
	// changed is not applied (it could undo them)
	gen uint64
}

func newRegistry(st store.Store) *registry {
	return &registry{st: st, groups: map[groupKey]*Group{}, devices: map[deviceKey]*deviceEntry{}}
}

// load creates the collections when missing and reads every group and
// device.
func (r *registry) load(ctx context.Context) error {
	for _, col := range []string{GroupsCollection, DevicesCollection} {
		if err := store.PutCollection(ctx, r.st, SystemLayer, col, store.Layer{Label: "GridEdge system data"}); err != nil {
			return err
		}
	}
	gs, ds, err := r.read(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups, r.devices = gs, ds
	r.gen++
	return nil
}

// read reads every group and device from the store.
func (r *registry) read(ctx context.Context) (map[groupKey]*Group, map[deviceKey]*deviceEntry, error) {
	groups, devices := map[groupKey]*Group{}, map[deviceKey]*deviceEntry{}
	gs, err := r.st.Find(ctx, SystemLayer, GroupsCollection, store.FindOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read the config groups: %w", err)
	}
	for _, doc := range gs {
		g, err := groupOfDoc(doc)
		if err != nil {
			return nil, nil, err
		}
		groups[groupKey{g.Resource, g.APIKey}] = g
	}
	ds, err := r.st.Find(ctx, SystemLayer, DevicesCollection, store.FindOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read the devices: %w", err)
	}
	for _, doc := range ds {
		e, err := deviceOfDoc(doc)
		if err != nil {
			return nil, nil, err
		}
		devices[deviceKey{e.dev.Service, e.dev.DeviceID}] = e
	}
	return groups, devices, nil
}

// groupOfDoc reads a stored config group.
func groupOfDoc(doc store.Document) (*Group, error) {
	var g Group
	if err := specOf(doc, &g); err != nil {
		return nil, fmt.Errorf("read config group %v: %w", doc[store.FieldID], err)
	}
	return &g, nil
}

// deviceOfDoc reads a stored device and its credentials.
func deviceOfDoc(doc store.Document) (*deviceEntry, error) {
	var d Device
	if err := specOf(doc, &d); err != nil {
		return nil, fmt.Errorf("read device %v: %w", doc[store.FieldID], err)
	}
	e := &deviceEntry{dev: d}
	e.tokenHash, _ = doc["tokenHash"].(string)
	if t, ok := doc["tokenCreated"].(time.Time); ok && e.tokenHash != "" {
		e.dev.TokenCreated = &t
	}
	return e, nil
}

// sync makes memory hold what the store holds of one document of col
// (GroupsCollection or DevicesCollection), after another hub (or this
// one) wrote or deleted it. The store is read under mu, so that no write
// of this hub to the same document comes between the read and memory.
func (r *registry) sync(ctx context.Context, col, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	doc, err := r.st.Get(ctx, SystemLayer, col, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read %s/%s/%s: %w", SystemLayer, col, id, err)
	}
	switch col {
	case GroupsCollection:
		for k, g := range r.groups {
			if groupID(g) == id {
				delete(r.groups, k)
			}
		}
		if doc != nil {
			g, err := groupOfDoc(doc)
			if err != nil {
				return err
			}
			r.groups[groupKey{g.Resource, g.APIKey}] = g
		}
		r.invalidate()
	case DevicesCollection:
		var e *deviceEntry
		if doc != nil {
			if e, err = deviceOfDoc(doc); err != nil {
				return err
			}
		}
		for k, old := range r.devices {
			if deviceID(&old.dev) != id {
				continue
			}
			if e != nil && sameDevice(old, e) {
				return nil // this hub's own write, or nothing new: keep the compiled mapping
			}
			delete(r.devices, k)
		}
		if e != nil {
			r.devices[deviceKey{e.dev.Service, e.dev.DeviceID}] = e
		}
	default:
		return fmt.Errorf("sync %s/%s/%s: not a provisioning collection", SystemLayer, col, id)
	}
	r.gen++
	return nil
}

// resync reads every group and device again and replaces memory with
// them, keeping the compiled mappings of devices and groups that did not
// change; a change this hub made meanwhile makes it give up (the next
// resync, or the change events, bring memory up to date).
func (r *registry) resync(ctx context.Context) (applied bool, err error) {
	r.mu.RLock()
	gen := r.gen
	r.mu.RUnlock()
	gs, ds, err := r.read(ctx)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen {
		return false, nil
	}
	keep := reflect.DeepEqual(gs, r.groups)
	for k, e := range ds {
		if old := r.devices[k]; keep && old != nil && sameDevice(old, e) {
			ds[k] = old
		}
	}
	if !keep || len(ds) != len(r.devices) || !sameEntries(ds, r.devices) {
		r.gen++
	}
	r.groups, r.devices = gs, ds
	return true, nil
}

// sameDevice tells whether two entries provision the same device with the
// same credentials.
func sameDevice(a, b *deviceEntry) bool {
	return a.tokenHash == b.tokenHash && reflect.DeepEqual(a.dev, b.dev)
}

// sameEntries tells whether every entry of a is the one of b.
func sameEntries(a, b map[deviceKey]*deviceEntry) bool {
	for k, e := range a {
		if b[k] != e {
			return false
		}
	}
	return true
}

func specOf(doc store.Document, v any) error {
	s, ok := doc["spec"].(string)
	if !ok {
		return errors.New("no spec")
	}
	return json.Unmarshal([]byte(s), v)
}

func groupID(g *Group) string   { return g.APIKey + "@" + g.Resource }
func deviceID(d *Device) string { return d.Service + "|" + d.DeviceID }

// errExists is returned when a group or device this hub creates was made
// meanwhile by another hub sharing the store, before this one heard of it;
// the stored one is then in memory.
var errExists = errors.New("made meanwhile by another hub")

// saveGroup stores a group: a new one (create) only when no group has its
// resource and apikey in the store, else errExists; the caller holds mu.
func (r *registry) saveGroup(ctx context.Context, g *Group, create bool) error {
	spec, err := json.Marshal(g)
	if err != nil {
		return err
	}
	doc := store.Document{store.FieldID: groupID(g), "service": g.Service, "subservice": g.Subservice, "spec": string(spec)}
	return r.put(ctx, GroupsCollection, doc, create)
}

// saveDevice stores a device: a new one (create) only when the store has
// no device of its service and id, else errExists; the caller holds mu.
func (r *registry) saveDevice(ctx context.Context, e *deviceEntry, create bool) error {
	d := e.dev
	d.TokenCreated = nil
	spec, err := json.Marshal(&d)
	if err != nil {
		return err
	}
	doc := store.Document{store.FieldID: deviceID(&d), "service": d.Service, "servicePath": d.ServicePath, "spec": string(spec), "tokenHash": e.tokenHash}
	if e.dev.TokenCreated != nil {
		doc["tokenCreated"] = *e.dev.TokenCreated
	} else {
		doc["tokenCreated"] = nil
	}
	return r.put(ctx, DevicesCollection, doc, create)
}

// put writes a provisioning document: replacing it, or, with create,
// inserting it, so that two hubs creating the same group or device (each
// before it heard of the other's) do not both succeed: the second finds
// the first's document, takes it into memory and gets errExists. The
// caller holds mu.
func (r *registry) put(ctx context.Context, col string, doc store.Document, create bool) error {
	r.gen++
	if !create {
		return bulk(ctx, r.st, col, doc)
	}
	id, _ := doc[store.FieldID].(string)
	res, err := r.st.Insert(ctx, SystemLayer, col, []store.Document{doc})
	if err != nil {
		return fmt.Errorf("store %s/%s/%s: %w", SystemLayer, col, id, err)
	}
	if res.Err == 0 {
		return nil
	}
	cur, gerr := r.st.Get(ctx, SystemLayer, col, id)
	if gerr != nil {
		return fmt.Errorf("store %s/%s/%s: %s", SystemLayer, col, id, strings.Join(res.Errors, "; "))
	}
	switch col {
	case GroupsCollection:
		g, err := groupOfDoc(cur)
		if err != nil {
			return err
		}
		r.groups[groupKey{g.Resource, g.APIKey}] = g
		r.invalidate()
	case DevicesCollection:
		e, err := deviceOfDoc(cur)
		if err != nil {
			return err
		}
		r.devices[deviceKey{e.dev.Service, e.dev.DeviceID}] = e
	}
	return errExists
}

func bulk(ctx context.Context, st store.Store, col string, doc store.Document) error {
	res, err := st.Bulk(ctx, SystemLayer, col, []store.Document{doc}, false)
	if err != nil {
		return fmt.Errorf("store %s/%s/%v: %w", SystemLayer, col, doc[store.FieldID], err)
	}
	if res.Err > 0 {
		return fmt.Errorf("store %s/%s/%v: %s", SystemLayer, col, doc[store.FieldID], strings.Join(res.Errors, "; "))
	}
	return nil
}

// inScope tells whether a (service, subservice) pair is in the scope of
// the request's headers; subservice "/*" is every service path.
func inScope(service, subservice, wantService, wantSub string) bool {
	return service == wantService && (wantSub == "/*" || subservice == wantSub)
}

// listGroups returns the groups of a scope, ordered by (resource, apikey).
func (r *registry) listGroups(service, sub string) []Group {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Group
	for _, g := range r.groups {
		if inScope(g.Service, g.Subservice, service, sub) {
			out = append(out, *g)
		}
	}
	slices.SortFunc(out, func(a, b Group) int {
		return strings.Compare(a.Resource+"\x00"+a.APIKey, b.Resource+"\x00"+b.APIKey)
	})
	return out
}

// addGroups adds groups; a pair (resource, apikey) that exists, or is
// twice in gs, fails them all with DUPLICATE_GROUP.
func (r *registry) addGroups(ctx context.Context, gs []*Group) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[groupKey]bool{}
	for _, g := range gs {
		k := groupKey{g.Resource, g.APIKey}
		if r.groups[k] != nil || seen[k] {
			return duplicateGroup(g.Resource, g.APIKey)
		}
		seen[k] = true
	}
	defer r.invalidate()
	for _, g := range gs {
		if err := r.saveGroup(ctx, g, true); errors.Is(err, errExists) {
			return duplicateGroup(g.Resource, g.APIKey)
		} else if err != nil {
			return err
		}
		r.groups[groupKey{g.Resource, g.APIKey}] = g
	}
	return nil
}

// groupByKey returns the group of an apikey for resource, else the only
// group with that apikey.
func (r *registry) groupByKey(resource, apikey string) *Group {
	g, _ := r.lookupGroup(resource, apikey)
	return g
}

// lookupGroup is groupByKey, with the generation of memory it was read
// at: a mapping compiled from the group may be kept by resolve only while
// memory is still at that generation.
func (r *registry) lookupGroup(resource, apikey string) (*Group, uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if g := r.groups[groupKey{resource, apikey}]; g != nil {
		return g, r.gen
	}
	var found *Group
	for k, g := range r.groups {
		if k.apikey == apikey {
			if found != nil {
				return nil, r.gen
			}
			found = g
		}
	}
	return found, r.gen
}

// updateGroup applies a partial update to a group of the scope.
func (r *registry) updateGroup(ctx context.Context, service, sub, resource, apikey string, patch []byte) (*Group, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.groups[groupKey{resource, apikey}]
	if cur == nil || !inScope(cur.Service, cur.Subservice, service, sub) {
		return nil, groupNotFound(resource, apikey)
	}
	var g Group
	if err := merge(cur, patch, &g); err != nil {
		return nil, wrongSyntax("%v", err)
	}
	g.Service, g.Subservice = cur.Service, cur.Subservice
	if e := checkGroup(&g); e != nil {
		return nil, e
	}
	nk := groupKey{g.Resource, g.APIKey}
	if nk != (groupKey{resource, apikey}) && r.groups[nk] != nil {
		return nil, duplicateGroup(g.Resource, g.APIKey)
	}
	if err := r.saveGroup(ctx, &g, false); err != nil {
		return nil, err
	}
	if nk != (groupKey{resource, apikey}) {
		if err := r.st.DeleteByID(ctx, SystemLayer, GroupsCollection, groupID(cur)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("delete the old config group: %w", err)
		}
		delete(r.groups, groupKey{resource, apikey})
	}
	r.groups[nk] = &g
	r.invalidate()
	return &g, nil
}

// deleteGroup removes a group of the scope and, with devices, the devices
// provisioned with its apikey.
func (r *registry) deleteGroup(ctx context.Context, service, sub, resource, apikey string, devices bool) ([]deviceKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.groups[groupKey{resource, apikey}]
	if cur == nil || !inScope(cur.Service, cur.Subservice, service, sub) {
		return nil, groupNotFound(resource, apikey)
	}
	if err := r.st.DeleteByID(ctx, SystemLayer, GroupsCollection, groupID(cur)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("delete config group: %w", err)
	}
	delete(r.groups, groupKey{resource, apikey})
	var gone []deviceKey
	if devices {
		for k, e := range r.devices {
			if e.dev.Service == cur.Service && e.dev.ServicePath == cur.Subservice && (e.dev.APIKey == apikey || (e.dev.APIKey == "" && onlyGroup(r.groups, cur))) {
				if err := r.st.DeleteByID(ctx, SystemLayer, DevicesCollection, deviceID(&e.dev)); err != nil && !errors.Is(err, store.ErrNotFound) {
					return gone, fmt.Errorf("delete device %s: %w", e.dev.DeviceID, err)
				}
				delete(r.devices, k)
				gone = append(gone, k)
			}
		}
	}
	r.invalidate()
	return gone, nil
}

// invalidate drops every compiled mapping (provisioning changes are rare).
// The caller holds mu.
func (r *registry) invalidate() {
	r.gen++
	for _, e := range r.devices {
		e.compiled = nil
	}
}

// listDevices returns the devices of a scope ordered by id, after offset,
// at most limit (0: all), and the count before paging.
func (r *registry) listDevices(service, sub string, offset, limit int) ([]Device, int) {
	r.mu.RLock()
	var out []Device
	for _, e := range r.devices {
		if inScope(e.dev.Service, e.dev.ServicePath, service, sub) {
			out = append(out, e.dev)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	n := len(out)
	out = out[min(offset, n):]
	if limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	return out, n
}

// device returns a device of a scope.
func (r *registry) device(service, sub, id string) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.devices[deviceKey{service, id}]
	if e == nil || !inScope(e.dev.Service, e.dev.ServicePath, service, sub) {
		return Device{}, false
	}
	return e.dev, true
}

// count returns the number of devices.
func (r *registry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.devices)
}

// addDevices provisions devices; an id that exists in the service, or is
// twice in ds, fails them all with DUPLICATE_DEVICE_ID.
func (r *registry) addDevices(ctx context.Context, ds []*Device) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[deviceKey]bool{}
	for _, d := range ds {
		k := deviceKey{d.Service, d.DeviceID}
		if r.devices[k] != nil || seen[k] {
			return duplicateDevice(d.DeviceID)
		}
		seen[k] = true
	}
	for _, d := range ds {
		e := &deviceEntry{dev: *d}
		if err := r.saveDevice(ctx, e, true); errors.Is(err, errExists) {
			return duplicateDevice(d.DeviceID)
		} else if err != nil {
			return err
		}
		r.devices[deviceKey{d.Service, d.DeviceID}] = e
	}
	return nil
}

// updateDevice applies a partial update to a device of the scope; its id,
// entity name and entity type cannot change (seed: they link the device to
// its documents).
func (r *registry) updateDevice(ctx context.Context, service, sub, id string, patch []byte) (*Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.devices[deviceKey{service, id}]
	if e == nil || !inScope(e.dev.Service, e.dev.ServicePath, service, sub) {
		return nil, deviceNotFound(id)
	}
	cur := e.dev
	cur.TokenCreated = nil
	var d Device
	if err := merge(&cur, patch, &d); err != nil {
		return nil, wrongSyntax("%v", err)
	}
	if d.DeviceID != cur.DeviceID || d.EntityName != cur.EntityName || d.EntityType != cur.EntityType {
		return nil, wrongSyntax("device %s: device_id, entity_name and entity_type cannot be changed", id)
	}
	d.Service, d.ServicePath = cur.Service, cur.ServicePath
	if e := checkDevice(&d); e != nil {
		return nil, e
	}
	ne := &deviceEntry{dev: d, tokenHash: e.tokenHash}
	ne.dev.TokenCreated = e.dev.TokenCreated
	if err := r.saveDevice(ctx, ne, false); err != nil {
		return nil, err
	}
	r.devices[deviceKey{service, id}] = ne
	return &ne.dev, nil
}

// deleteDevice removes a device of the scope.
func (r *registry) deleteDevice(ctx context.Context, service, sub, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.devices[deviceKey{service, id}]
	if e == nil || !inScope(e.dev.Service, e.dev.ServicePath, service, sub) {
		return deviceNotFound(id)
	}
	if err := r.st.DeleteByID(ctx, SystemLayer, DevicesCollection, deviceID(&e.dev)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete device %s: %w", id, err)
	}
	delete(r.devices, deviceKey{service, id})
	r.gen++
	return nil
}

// setToken stores a token hash for a device of the scope ("" revokes it).
func (r *registry) setToken(ctx context.Context, service, sub, id, hash string, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.devices[deviceKey{service, id}]
	if e == nil || !inScope(e.dev.Service, e.dev.ServicePath, service, sub) {
		return deviceNotFound(id)
	}
	ne := &deviceEntry{dev: e.dev, tokenHash: hash, compiled: e.compiled}
	ne.dev.TokenCreated = nil
	if hash != "" {
		t := now.UTC().Truncate(time.Millisecond)
		ne.dev.TokenCreated = &t
	}
	if err := r.saveDevice(ctx, ne, false); err != nil {
		return err
	}
	r.devices[deviceKey{service, id}] = ne
	return nil
}

// resolve returns what a reading of device id in group g needs: the
// device (nil when not provisioned), its token hash and its compiled
// mapping. g was read at generation gen (lookupGroup): a mapping compiled
// here is kept for the next readings only when nothing changed since, for
// a group changed meanwhile (by this hub, or by another one whose change
// event came in between) would otherwise leave the old mapping in place
// after the change had dropped it.
func (r *registry) resolve(g *Group, gen uint64, id string) (*Device, string, *compiled, error) {
	k := deviceKey{g.Service, id}
	r.mu.RLock()
	e := r.devices[k]
	var c *compiled
	if e != nil {
		c = e.compiled
	}
	r.mu.RUnlock()
	if e == nil {
		return nil, "", nil, nil
	}
	if c == nil {
		var err error
		if c, err = compile(&e.dev, r.groupOf(&e.dev, g)); err != nil {
			return nil, "", nil, err
		}
		r.mu.Lock()
		if r.gen == gen && r.devices[k] == e {
			e.compiled = c
		}
		r.mu.Unlock()
	}
	return &e.dev, e.tokenHash, c, nil
}

// groupOf is the group a device's readings use: the one its readings came
// with (g), unless the device names another apikey.
func (r *registry) groupOf(d *Device, g *Group) *Group {
	if d.APIKey == "" || d.APIKey == g.APIKey {
		return g
	}
	return r.groupByKey(g.Resource, d.APIKey)
}

// autoprovision creates device id in group g when it does not exist yet.
func (r *registry) autoprovision(ctx context.Context, d *Device, max int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.devices[deviceKey{d.Service, d.DeviceID}] != nil {
		return nil // provisioned meanwhile
	}
	if len(r.devices) >= max {
		return &Error{Code: 403, Name: NameDeviceLimit, Message: fmt.Sprintf("device %s cannot be autoprovisioned: the hub has iot.maxDevices (%d) devices", d.DeviceID, max)}
	}
	e := &deviceEntry{dev: *d}
	if err := r.saveDevice(ctx, e, true); errors.Is(err, errExists) {
		return nil // provisioned meanwhile by another hub: its device is in memory now
	} else if err != nil {
		return err
	}
	r.devices[deviceKey{d.Service, d.DeviceID}] = e
	return nil
}

// onlyGroup tells whether g is the only group of its service path (the
// group of the path's devices without apikey). The caller holds mu, and g
// is already out of groups.
func onlyGroup(groups map[groupKey]*Group, g *Group) bool {
	for _, o := range groups {
		if o.Service == g.Service && o.Subservice == g.Subservice {
			return false
		}
	}
	return true
}
