// Package opcua is the agent's OPC-UA southbound: it connects to OPC-UA
// servers with the security policy, mode and identity the config names,
// refuses server certificates it does not trust, browses, reads and writes
// nodes, and turns subscribed or polled node values into document updates
// like Modbus readings (measurements.<name> = {value, quality, timestamp},
// quality from the OPC-UA status code, the server's source timestamp kept).
//
// A [Source] runs one server: it connects, creates its subscription and
// monitored items (sampling interval, deadband) or polls, and after a lost
// connection (a server restart) marks the server's measurements bad once,
// reconnects with backoff and creates everything again.
package opcua
