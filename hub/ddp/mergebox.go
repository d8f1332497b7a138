// The per-connection merge box: one document set per collection, each
// document the union of the fields its subscriptions publish (a field
// published by several takes the value of the oldest subscription),
// reference-counted by subscription. Values are kept as their EJSON
// encoding, shared between connections, so that comparing and sending
// them costs no encoding per client.

package ddp

// docRef names a document of the merge box.
type docRef struct{ coll, id string }

// fieldSet is a document's top-level fields (without _id), each kept as its
// EJSON encoding. A set is never modified once built and is shared by every
// connection that publishes the same view of the same version of the
// document, so within one dispatcher round its identity names its content:
// the message from one set to another is encoded once per round, whatever
// the number of connections (msgKey).
type fieldSet struct{ m map[string][]byte }

// subFields is what one subscription publishes of a document.
type subFields struct {
	sub    *subscription
	fields *fieldSet
}

// docView is a document as the client has it.
type docView struct {
	subs  []subFields // by subscription age
	sent  *fieldSet   // the fields the client has; nil before added
	dirty bool
}

// msgKey names a data message: removed (old and now nil), added (old nil)
// or changed from old to now. The fieldSets it holds stay alive while the
// key does, so an address is never reused for other content in a round.
type msgKey struct {
	ref      docRef
	old, now *fieldSet
}

// set records what sub publishes of document id: fields, or nothing (nil).
// Nothing is sent until flush.
func (c *conn) set(sub *subscription, id string, fields *fieldSet) {
	cv := sub.view
	if cv == nil {
		// Once per subscription: the collection's document set, which
		// stays in the box (empty or not) until the connection ends.
		if cv = c.box[sub.coll]; cv == nil {
			cv = map[string]*docView{}
			c.box[sub.coll] = cv
		}
		sub.view = cv
	}
	dv := cv[id]
	if fields == nil {
		if dv == nil {
			return
		}
		for i, sf := range dv.subs {
			if sf.sub == sub {
				dv.subs = append(dv.subs[:i], dv.subs[i+1:]...)
				c.markDirty(sub.coll, id, dv)
				return
			}
		}
		return
	}
	if dv == nil {
		dv = &docView{}
		cv[id] = dv
	}
	c.markDirty(sub.coll, id, dv)
	for i, sf := range dv.subs {
		if sf.sub == sub {
			dv.subs[i].fields = fields
			return
		}
	}
	i := len(dv.subs)
	for i > 0 && dv.subs[i-1].sub.seq > sub.seq {
		i--
	}
	dv.subs = append(dv.subs, subFields{})
	copy(dv.subs[i+1:], dv.subs[i:])
	dv.subs[i] = subFields{sub: sub, fields: fields}
}

// has reports whether sub publishes document id.
func (c *conn) has(sub *subscription, id string) bool {
	dv := c.box[sub.coll][id]
	if dv == nil {
		return false
	}
	for _, sf := range dv.subs {
		if sf.sub == sub {
			return true
		}
	}
	return false
}

// held returns the ids of the documents sub publishes.
func (c *conn) held(sub *subscription) []string {
	var ids []string
	for id, dv := range c.box[sub.coll] {
		for _, sf := range dv.subs {
			if sf.sub == sub {
				ids = append(ids, id)
				break
			}
		}
	}
	return ids
}

func (c *conn) markDirty(coll, id string, dv *docView) {
	if dv.dirty {
		return
	}
	dv.dirty = true
	if len(c.dirty) == 0 {
		c.srv.dirtyConns = append(c.srv.dirtyConns, c)
	}
	c.dirty = append(c.dirty, docRef{coll, id})
}

// flush sends added, changed and removed for the documents that changed
// since the last flush: only differences, never an empty changed. The
// messages leave in one batch, each encoded once per dispatcher round for
// every connection that needs it (Server.msgs).
func (c *conn) flush() {
	if len(c.dirty) == 0 {
		return
	}
	msgs := c.srv.flushBuf[:0]
	for _, r := range c.dirty {
		cv := c.box[r.coll]
		dv := cv[r.id]
		if dv == nil || !dv.dirty {
			continue
		}
		dv.dirty = false
		if len(dv.subs) == 0 {
			if dv.sent != nil {
				msgs = append(msgs, c.srv.message(msgKey{ref: r}))
			}
			delete(cv, r.id)
			continue
		}
		now := dv.subs[0].fields
		if len(dv.subs) > 1 {
			m := make(map[string][]byte, len(now.m))
			for _, sf := range dv.subs {
				for k, v := range sf.fields.m {
					if _, ok := m[k]; !ok {
						m[k] = v
					}
				}
			}
			now = &fieldSet{m: m}
		}
		if msg := c.srv.message(msgKey{ref: r, old: dv.sent, now: now}); msg != nil {
			msgs = append(msgs, msg)
		}
		dv.sent = now
	}
	clear(c.dirty)
	c.dirty = c.dirty[:0]
	c.sendAll(msgs)
	clear(msgs)
	c.srv.flushBuf = msgs[:0]
}

// message returns the data message k names, encoded once per dispatcher
// round (nil for a changed without difference). Dispatcher only.
func (s *Server) message(k msgKey) []byte {
	if msg, ok := s.msgs[k]; ok {
		return msg
	}
	var msg []byte
	switch {
	case k.now == nil:
		msg = removedMessage(k.ref.coll, k.ref.id)
	case k.old == nil:
		msg = addedMessage(k.ref.coll, k.ref.id, k.now.m)
	case k.old == k.now:
		msg = nil
	default:
		msg = changedMessage(k.ref.coll, k.ref.id, k.old.m, k.now.m)
	}
	s.msgs[k] = msg
	return msg
}

func appendHead(b []byte, msg, coll, id string) []byte {
	b = append(b, `{"msg":"`...)
	b = append(b, msg...)
	b = append(b, `","collection":`...)
	b = appendString(b, coll)
	b = append(b, `,"id":`...)
	return appendString(b, id)
}

func appendFields(b []byte, fields map[string][]byte, only func(string, []byte) bool) ([]byte, int) {
	n := 0
	for k, v := range fields {
		if only != nil && !only(k, v) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = append(b, v...)
		n++
	}
	return b, n
}

func addedMessage(coll, id string, fields map[string][]byte) []byte {
	size := 64 + len(coll) + len(id)
	for k, v := range fields {
		size += len(k) + len(v) + 4
	}
	b := appendHead(make([]byte, 0, size), "added", coll, id)
	b = append(b, `,"fields":{`...)
	b, _ = appendFields(b, fields, nil)
	return append(b, '}', '}')
}

func removedMessage(coll, id string) []byte {
	return append(appendHead(nil, "removed", coll, id), '}')
}

// changedMessage is the changed message from old to now, or nil when they
// are equal.
func changedMessage(coll, id string, old, now map[string][]byte) []byte {
	var cleared []string
	for k := range old {
		if _, ok := now[k]; !ok {
			cleared = append(cleared, k)
		}
	}
	differs := func(k string, v []byte) bool {
		o, ok := old[k]
		return !ok || string(o) != string(v)
	}
	b := appendHead(nil, "changed", coll, id)
	b = append(b, `,"fields":{`...)
	b, n := appendFields(b, now, differs)
	if n == 0 && len(cleared) == 0 {
		return nil
	}
	b = append(b, '}')
	if n == 0 {
		b = b[:len(b)-len(`,"fields":{}`)]
	}
	if len(cleared) > 0 {
		b = append(b, `,"cleared":[`...)
		for i, k := range cleared {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
