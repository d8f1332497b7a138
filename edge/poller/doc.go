// Package poller schedules Modbus reads of the slaves of a SETTINGS document,
// coalesces registers into requests, and decodes datatypes into engineering
// values.
package poller
