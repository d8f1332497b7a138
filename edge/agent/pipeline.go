package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/gridedge/gridedge/edge/buffer"
	"github.com/gridedge/gridedge/shared/model"
	"github.com/gridedge/gridedge/shared/pipeline/baddata"
	"github.com/gridedge/gridedge/shared/pipeline/transform"
	"github.com/gridedge/gridedge/shared/pipeline/vsensor"
	"github.com/gridedge/gridedge/shared/subject"
)

// statusPublisher publishes a slave's decoded update as MQTT status (the
// MQTT bridge).
type statusPublisher interface {
	Publish(slave int, u model.Update)
}

// liveBus is the edge's local NATS bus.
type liveBus interface {
	// Interest reports whether anyone subscribes to subj.
	Interest(subj string) bool
	// Publish sends data on subj.
	Publish(subj string, data []byte) error
}

// pipeline is the path of every reading from a poll to the buffer and the
// live bus. Process shows the stages in order; Tick sends the outputs that
// time produces (stale-data rules, poll-mode virtual sensors) through the
// same tail.
type pipeline struct {
	status statusPublisher // nil without MQTT
	tr     *transform.Transformer
	bd     *baddata.Engine
	vs     *vsensor.Engine // nil without virtual sensors
	buf    *buffer.Buffer
	live   liveBus
	domain string
	edge   string
	now    func() time.Time
	log    *slog.Logger
}

// Process takes the updates of one poll of slave through the pipeline.
func (p *pipeline) Process(_ context.Context, slave int, updates []model.Update) error {
	// 1. MQTT status first: it mirrors what the device said (the X-FLEX
	// mqttPublications templates name the map's variables), so it carries
	// the decoded values before transforms and rules; the stored view
	// reaches MQTT-side consumers through the hub.
	if p.status != nil {
		for _, u := range updates {
			p.status.Publish(slave, u)
		}
	}
	now := p.now()
	updates = p.tr.Process(updates)      // 2. measurement transformation (mappings)
	updates = p.bd.Process(updates, now) // 3. bad-data rules
	if p.vs != nil {
		updates = append(updates, p.vs.Observe(updates, now)...) // 4. virtual sensors
	}
	return p.store(updates) // 5–8
}

// Tick sends what the rules and virtual sensors produce at time now (stale
// data, interpolation deadlines, poll-mode sensors) through the same tail
// as polled readings.
func (p *pipeline) Tick(now time.Time) error {
	us := p.bd.Tick(now)
	if p.vs != nil {
		us = append(us, p.vs.Observe(us, now)...)
		us = append(us, p.vs.Poll(now)...)
	}
	return p.store(us)
}

// store is the tail of the pipeline.
func (p *pipeline) store(updates []model.Update) error {
	if len(updates) == 0 {
		return nil
	}
	model.ReplaceNonFinite(updates) // 5. NaN and ±Inf become null with bad quality
	// 6–7. encoded once (shared/wire) and appended durably; the forwarder
	// sends these bytes as they are. Updates the buffer refuses (full
	// disk, reject-new) are counted there (buffer.refused and
	// buffer.rejected in the heartbeat) and still go to local listeners:
	// polling goes on, and the live bus does not depend on the disk.
	_, err := p.buf.Append(updates...)
	p.publishLive(updates) // 8. live bus, JSON, only when someone listens
	if err != nil {
		return fmt.Errorf("buffer %d updates: %w", len(updates), err)
	}
	return nil
}

// publishLive publishes updates as JSON on the live subjects that have a
// subscriber; nothing is encoded for the others.
func (p *pipeline) publishLive(updates []model.Update) {
	for i := range updates {
		u := &updates[i]
		subj := subject.Live(p.domain, p.edge, u.Layer, u.Collection, u.ID)
		if !p.live.Interest(subj) {
			continue
		}
		data, err := json.Marshal(u)
		if err != nil {
			p.log.Debug("live reading not encodable", "subject", subj, "err", err)
			continue
		}
		_ = p.live.Publish(subj, data) // best effort: local listeners only
	}
}
