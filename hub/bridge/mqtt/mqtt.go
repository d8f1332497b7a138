// Package mqtt is the Sink of outbound MQTT bridges: it publishes every
// change event of the forwarded layers to an MQTT broker at QoS 1, with
// github.com/eclipse/paho.golang (MQTT 5), and counts a batch delivered
// only once the broker acknowledged every message with a PUBACK.
package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/gridedge/gridedge/hub/bridge"
)

// inflight bounds the messages of one batch awaiting their PUBACK at once
// (the broker's Receive Maximum bounds it further).
const inflight = 64

// Publisher is the Sink of an outbound MQTT bridge. Each event becomes a
// QoS 1 message (retained when the bridge says so) on the topic
// <prefix>/<layer>/<collection>/<id> (Topic), with the event's body as
// payload, content type application/json and the user property
// Idempotency-Key = the event's Key. Publisher connects at the first Send
// and again after any failure.
type Publisher struct {
	url      *url.URL
	prefix   string
	retain   bool
	clientID string
	timeout  time.Duration

	mu sync.Mutex // guards c; held by Send
	c  *paho.Client
}

var _ bridge.Sink = (*Publisher)(nil)

// NewPublisher makes the Publisher of bridge cfg (defaults applied); it
// fails when the URL is not an MQTT URL.
func NewPublisher(cfg bridge.Config) (*Publisher, error) {
	cfg.Defaults()
	u, err := URL(bridge.ResolveEnv(cfg.URL))
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", cfg.Name, err)
	}
	return &Publisher{url: u, prefix: cfg.Topic, retain: cfg.Retain, clientID: "gridedge-bridge-" + cfg.Name,
		timeout: cfg.Timeout.Std()}, nil
}

// URL parses mqtt://[user:password@]host:port (mqtts:// for TLS; tcp://
// and ssl:// are accepted too).
func URL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("mqtt URL: %w", err)
	}
	switch u.Scheme {
	case "mqtt", "mqtts", "tcp", "ssl", "tls":
	default:
		return nil, fmt.Errorf("%q is not an mqtt:// or mqtts:// URL", u.Redacted())
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("mqtt URL %q has no host", u.Redacted())
	}
	return u, nil
}

// Topic is the topic of e under prefix: <prefix>/<layer>/<collection>/<id>
// (for drop: <prefix>/<layer>/<collection>). '/', '+', '#' and '%' in an
// id are written %2F, %2B, %23 and %25, so that an id is one topic level
// and never a wildcard.
func Topic(prefix string, e *bridge.Event) string {
	t := prefix + "/" + escape(e.Layer) + "/" + escape(e.Collection)
	if e.ID != "" {
		t += "/" + escape(e.ID)
	}
	return t
}

var escaper = strings.NewReplacer("%", "%25", "/", "%2F", "+", "%2B", "#", "%23")

func escape(s string) string { return escaper.Replace(s) }

// client returns a connected client, connecting when needed; the caller
// holds mu.
func (p *Publisher) client(ctx context.Context) (*paho.Client, error) {
	if p.c != nil {
		select {
		case <-p.c.Done():
		default:
			return p.c, nil
		}
	}
	p.reset()
	host := p.url.Host
	if p.url.Port() == "" {
		port := "1883"
		if p.url.Scheme != "mqtt" && p.url.Scheme != "tcp" {
			port = "8883"
		}
		host = net.JoinHostPort(p.url.Hostname(), port)
	}
	var conn net.Conn
	var err error
	d := &net.Dialer{Timeout: p.timeout}
	if p.url.Scheme == "mqtt" || p.url.Scheme == "tcp" {
		conn, err = d.DialContext(ctx, "tcp", host)
	} else {
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: p.url.Hostname()}}
		conn, err = td.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the mqtt broker %s: %w", p.url.Redacted(), err)
	}
	c := paho.NewClient(paho.ClientConfig{ClientID: p.clientID, Conn: conn, PacketTimeout: p.timeout})
	cp := &paho.Connect{ClientID: p.clientID, CleanStart: true, KeepAlive: 30}
	if ui := p.url.User; ui != nil {
		cp.Username, cp.UsernameFlag = ui.Username(), true
		if pw, ok := ui.Password(); ok {
			cp.Password, cp.PasswordFlag = []byte(pw), true
		}
	}
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		_ = conn.Close()
		if ca != nil {
			return nil, fmt.Errorf("connect to the mqtt broker %s: %w (reason %d: %s)", p.url.Redacted(), err, ca.ReasonCode, ca.Properties.ReasonString)
		}
		return nil, fmt.Errorf("connect to the mqtt broker %s: %w", p.url.Redacted(), err)
	}
	p.c = c
	return c, nil
}

// reset drops the connection; the caller holds mu.
func (p *Publisher) reset() {
	if p.c != nil {
		_ = p.c.Disconnect(&paho.Disconnect{})
	}
	p.c = nil
}

// Send publishes the events at QoS 1, up to 64 awaiting their PUBACK at
// once, and returns nil only when every one was acknowledged with a
// success reason code. Any failure drops the connection, so that the
// next Send starts on a fresh one; the whole batch is then sent again and
// receivers drop duplicates by Idempotency-Key.
func (p *Publisher) Send(ctx context.Context, events []bridge.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, inflight)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for i := range events {
		e := &events[i]
		body, err := e.Body()
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("encode event %s: %w", e.Key, err)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		pub := &paho.Publish{QoS: 1, Retain: p.retain, Topic: Topic(p.prefix, e), Payload: body,
			Properties: &paho.PublishProperties{ContentType: "application/json",
				User: paho.UserProperties{{Key: bridge.HeaderKey, Value: e.Key}}}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := c.Publish(ctx, pub); err != nil {
				select {
				case errs <- fmt.Errorf("publish event %s to %s: %w", e.Key, pub.Topic, err):
				default:
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		p.reset()
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		p.reset()
		return fmt.Errorf("publish %d events: %w", len(events), err)
	}
	return nil
}

// Close disconnects from the broker.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset()
	return nil
}
