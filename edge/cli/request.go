package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/gridedge/gridedge/shared/control"
	"github.com/gridedge/gridedge/shared/subject"
)

// errOffline is returned when an edge (or the hub's fleet service) does not
// answer: no responder, or no answer within the timeout.
var errOffline = errors.New("offline")

// edgeRequest sends one control request to edge and decodes the reply into
// out. The reply subject starts with the edge's inbox prefix
// (subject.EdgeInbox): an edge's leaf connection may publish nowhere else.
func edgeRequest(ctx context.Context, nc *nats.Conn, domain, edge, action string, req, out any, timeout time.Duration) error {
	if err := subject.CheckToken("edge id", edge); err != nil {
		return err
	}
	body, err := encodeRequest(req)
	if err != nil {
		return err
	}
	inbox := subject.EdgeInbox(edge) + "." + nuid.Next()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("subscribe to the reply subject %s: %w", inbox, err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // the connection closes soon after
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subject.EdgeControl(domain, edge, action), Reply: inbox, Data: body}
	if err := nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("send %s to edge %s: %w", action, edge, err)
	}
	if err := nc.FlushWithContext(rctx); err != nil {
		return fmt.Errorf("send %s to edge %s: %w", action, edge, err)
	}
	reply, err := sub.NextMsgWithContext(rctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("edge %s: %w (no answer to %s within %s)", edge, errOffline, action, timeout)
	case errors.Is(err, nats.ErrNoResponders), err == nil && isNoResponders(reply):
		return fmt.Errorf("edge %s: %w (nobody answers %s: the edge is not connected)", edge, errOffline, msg.Subject)
	case err != nil:
		return fmt.Errorf("edge %s: wait for the answer to %s: %w", edge, action, err)
	}
	return decodeReply(reply.Data, out, "edge "+edge, action)
}

// hubRequest sends a request to a hub service (fleet list, fleet status).
func hubRequest(ctx context.Context, nc *nats.Conn, subj string, req, out any, timeout time.Duration) error {
	body, err := encodeRequest(req)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := nc.RequestWithContext(rctx, subj, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("hub: %w (nobody answers %s: is the hub's fleet service running, and may this user publish there?)", errOffline, subj)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("hub: %w (no answer on %s within %s)", errOffline, subj, timeout)
	case err != nil:
		return fmt.Errorf("request %s: %w", subj, err)
	}
	return decodeReply(reply.Data, out, "hub", subj)
}

func encodeRequest(req any) ([]byte, error) {
	if req == nil {
		return nil, nil
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode the request: %w", err)
	}
	return b, nil
}

// decodeReply decodes a reply and returns its "error" (a *control.Error).
func decodeReply(data []byte, out any, who, what string) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: the answer to %s is not what was expected: %w (%.200q)", who, what, err, data)
	}
	var e struct {
		Error *control.Error `json:"error"`
	}
	if err := json.Unmarshal(data, &e); err == nil && e.Error != nil {
		return e.Error
	}
	return nil
}

// isNoResponders reports a "503 no responders" status message.
func isNoResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get("Status") == "503"
}
