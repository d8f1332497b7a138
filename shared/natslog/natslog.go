// Package natslog adapts log/slog to the logger interface of an embedded
// nats-server (Noticef, Warnf, Errorf, Fatalf, Debugf, Tracef), without
// importing nats-server, so the shared module stays light.
package natslog

import (
	"fmt"
	"log/slog"
)

// Logger sends nats-server log lines to slog. Notices (listening, client
// and leaf connections) are debug-level; server errors are warnings, since
// nats-server reports a dropped client as an error.
type Logger struct {
	// Log receives the lines.
	Log *slog.Logger
}

// New returns a Logger writing to log with component=nats.
func New(log *slog.Logger) *Logger { return &Logger{Log: log.With("component", "nats")} }

// Noticef logs at debug level.
func (l *Logger) Noticef(format string, v ...any) { l.Log.Debug(fmt.Sprintf(format, v...)) }

// Warnf logs at warn level.
func (l *Logger) Warnf(format string, v ...any) { l.Log.Warn(fmt.Sprintf(format, v...)) }

// Fatalf logs at error level (the server itself decides whether to stop).
func (l *Logger) Fatalf(format string, v ...any) { l.Log.Error(fmt.Sprintf(format, v...)) }

// Errorf logs at warn level.
func (l *Logger) Errorf(format string, v ...any) { l.Log.Warn(fmt.Sprintf(format, v...)) }

// Debugf logs at debug level.
func (l *Logger) Debugf(format string, v ...any) { l.Log.Debug(fmt.Sprintf(format, v...)) }

// Tracef drops protocol traces.
func (l *Logger) Tracef(format string, v ...any) {}
