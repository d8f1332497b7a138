package iot

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/shared/subject"
)

// Hub replicas share the store, and each keeps the provisioning in
// memory: every hub follows the change events of the provisioning
// collections (its own included: re-reading a document it wrote changes
// nothing), and reads everything again every Options.Resync in case an
// event was lost.

// provisioningFeed is the subscription to the provisioning change events.
type provisioningFeed struct {
	ch   chan *nats.Msg
	subs []*nats.Subscription
}

// subscribeProvisioning subscribes to the change events of the config
// groups and devices.
func (s *Service) subscribeProvisioning() (*provisioningFeed, error) {
	f := &provisioningFeed{ch: make(chan *nats.Msg, 4096)}
	for _, col := range []string{GroupsCollection, DevicesCollection} {
		subj := subject.StorageChanged(s.domain, SystemLayer, col)
		sub, err := s.nc.ChanSubscribe(subj, f.ch)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("iot: subscribe to %s: %w", subj, err)
		}
		f.subs = append(f.subs, sub)
	}
	// the subscription is known to the server before a resync reads the
	// store: no change is missed between the two
	if err := s.nc.Flush(); err != nil {
		f.close()
		return nil, fmt.Errorf("iot: subscribe to the provisioning changes: %w", err)
	}
	return f, nil
}

func (f *provisioningFeed) close() {
	for _, sub := range f.subs {
		_ = sub.Unsubscribe()
	}
}

// followProvisioning applies the change events of f to the registry, and
// resyncs it every s.resync, until ctx ends.
func (s *Service) followProvisioning(ctx context.Context, f *provisioningFeed) {
	defer f.close()
	t := time.NewTicker(s.resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-f.ch:
			var ch store.Change
			if err := json.Unmarshal(m.Data, &ch); err != nil {
				s.log.Warn("iot: bad provisioning change event", "subject", m.Subject, "err", err)
				continue
			}
			var err error
			if ch.Op == store.OpDrop || ch.ID == "" {
				_, err = s.reg.resync(ctx)
			} else {
				err = s.reg.sync(ctx, ch.Collection, ch.ID)
			}
			if err != nil && ctx.Err() == nil {
				s.log.Error("iot: follow a provisioning change", "op", ch.Op, "collection", ch.Collection, "id", ch.ID, "err", err)
			}
		case <-t.C:
			applied, err := s.reg.resync(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("iot: read the provisioning again", "err", err)
			} else if !applied {
				s.log.Debug("iot: provisioning changed while read again; the next resync applies it")
			}
		}
	}
}
