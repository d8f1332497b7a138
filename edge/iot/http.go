package iot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gridedge/gridedge/shared/iotjson"
	"github.com/gridedge/gridedge/shared/tlsconf"
	"github.com/gridedge/gridedge/shared/version"
)

// HeaderDeviceToken carries a device's token over HTTP.
const HeaderDeviceToken = iotjson.HeaderDeviceToken

// Handler serves the southbound HTTP binding: POST /iot/json?k=&i= with a
// JSON measurement object (or an array of them), and GET /iot/about.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+iotjson.ResourceJSON, s.serveJSON)
	mux.HandleFunc("GET /iot/about", func(w http.ResponseWriter, _ *http.Request) {
		iotjson.WriteJSON(w, http.StatusOK, map[string]string{"libVersion": "3.3.0", "baseRoot": "/", "version": version.String()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		iotjson.WriteError(w, &iotjson.Error{Code: http.StatusNotFound, Name: iotjson.NameNotFound, Message: r.Method + " " + r.URL.Path + " is not a route of the agent's device binding"})
	})
	return mux
}

func (s *Service) serveJSON(w http.ResponseWriter, r *http.Request) {
	in, err := iotjson.ReadHTTP(w, r, s.cfg.MaxPayload, "devices.maxPayload")
	if err != nil {
		s.refused.Add(1)
		iotjson.WriteError(w, err)
		return
	}
	if err := s.Ingest(r.Context(), in); err != nil {
		var e *iotjson.Error
		if !errors.As(err, &e) {
			s.log.Error("devices: take a reading", "device", in.DeviceID, "err", err)
		}
		iotjson.WriteError(w, err)
		return
	}
	iotjson.WriteJSON(w, http.StatusOK, struct{}{})
}

// Listen opens the HTTP binding's listener (devices.http.listen), with
// TLS when devices.http.tls is set; Serve serves it.
func (s *Service) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("devices.http.listen %s: %w", s.cfg.HTTP.Listen, err)
	}
	if !tlsconf.Loopback(s.cfg.HTTP.Listen) && s.cfg.HTTP.TLS == nil {
		s.log.Warn("devices: the HTTP binding listens beyond this host without TLS; device tokens travel in clear", "listen", ln.Addr().String())
	}
	addr := ln.Addr().String()
	s.httpAddr.Store(&addr)
	return ln, nil
}

// Serve serves the HTTP binding on ln until ctx ends.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, ErrorLog: nil}
	if t := s.cfg.HTTP.TLS; t != nil {
		tc, _, err := tlsconf.Server("devices.http.tls", *t, s.log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		srv.TLSConfig = tc
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("devices: HTTP binding: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-errc
	return nil
}
