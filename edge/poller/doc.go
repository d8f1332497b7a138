// Package poller schedules Modbus reads of the slaves of a SETTINGS document
// and coalesces registers into requests; package codec decodes what each
// request returns into engineering values.
package poller
