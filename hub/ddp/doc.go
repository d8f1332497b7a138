// Package ddp serves Meteor's Distributed Data Protocol (DDP, versions 1 and
// pre2) over WebSocket, so that the tools written for the X-FLEX platform's
// DDP connector (seed 000, 3.3.2) and any Meteor DDP client (simpleddp,
// ddp.js, Meteor's own) work against the hub unchanged.
//
// Two endpoints share one protocol engine: /websocket carries raw DDP, one
// message per WebSocket text frame, and /sockjs/... carries the same
// messages in SockJS framing (o, h, a[...], c[...]) for browser clients that
// insist on it, over a WebSocket or SockJS's HTTP transports (xhr-streaming,
// xhr-polling, xhr_send).
//
// Publications are <layer>_<collection>.all and <layer>_<collection>.find
// (a MongoDB selector with sort, limit, skip and fields). They respect the
// caller's layer grants and the collection's public attributes, and stay
// live from the store's change events on NATS
// (<domain>.storage.changed.>), so a write made through REST, edge ingest,
// another method or another hub replica reaches every subscriber. Each
// connection keeps a merge box (one document set per collection, the union
// of the fields its subscriptions publish) and sends only differences.
//
// Methods are the connector's set: login, loginApp, renewToken
// (getNewToken), logout, isLogged, findAll, findOne, insert, update and
// remove. Every method ends with result and then updated, after the data
// messages its own writes caused.
//
// Concurrency: one dispatcher goroutine owns every subscription and every
// merge box, so change events, subscription starts and re-runs are applied
// in one order, in rounds that flush each connection once; it never blocks
// on a client. Each connection has a reader
// (the HTTP handler's goroutine) and a writer goroutine that drains a
// bounded queue; a client whose queue overflows is disconnected. See
// docs/ddp.md.
package ddp
