package agent

import (
	"context"
	"fmt"

	"github.com/gridedge/gridedge/edge/opcua"
	"github.com/gridedge/gridedge/shared/model"
)

// noSlave is the slave index of readings that come from no Modbus slave
// (OPC-UA): the MQTT status publications, which the SETTINGS define per
// slave, skip them.
const noSlave = -1

// startOPCUA starts one source per server of the opcua section. Their
// updates take the pipeline Modbus readings take (transform, rules,
// virtual sensors, buffer, live bus); each source runs until ctx is done
// and reconnects by itself, so a server that is down at start-up delays
// nothing.
func (a *Agent) startOPCUA(ctx context.Context) error {
	if a.cfg.OPCUA == nil {
		return nil
	}
	sink := func(ctx context.Context, us []model.Update) error { return a.pipe.Process(ctx, noSlave, us) }
	for i := range a.cfg.OPCUA.Servers {
		srv := &a.cfg.OPCUA.Servers[i]
		src, err := opcua.NewSource(srv, sink, a.log)
		if err != nil {
			return fmt.Errorf("opcua server %s: %w", srv.Name, err)
		}
		a.opcuaSources = append(a.opcuaSources, src)
		a.wg.Go(func() { _ = src.Run(ctx) })
	}
	a.log.Info("opc-ua sources started", "servers", len(a.opcuaSources))
	return nil
}

// opcuaStats returns each OPC-UA source's counters.
func (a *Agent) opcuaStats() []opcua.Stats {
	var out []opcua.Stats
	for _, src := range a.opcuaSources {
		out = append(out, src.Stats())
	}
	return out
}
