package iot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/shared/iotjson"
)

// Paths of the bindings and of the provisioning API.
const (
	PathPrefix   = "/iot"
	PathJSON     = "/iot/json"     // southbound HTTP (IoT Agent JSON)
	PathServices = "/iot/services" // config groups
	PathDevices  = "/iot/devices"  // devices
	PathAbout    = "/iot/about"
)

// Header names of the provisioning API and of the device token.
const (
	HeaderService     = "Fiware-Service"
	HeaderServicePath = "Fiware-ServicePath"
	HeaderDeviceToken = iotjson.HeaderDeviceToken
)

// maxProvisionBody bounds provisioning request bodies.
const maxProvisionBody = 1 << 20

// Mount serves the service's paths (PathPrefix and below) and passes every
// other request to next.
func (s *Service) Mount(next http.Handler, a Authenticator) http.Handler {
	h := s.Handler(a)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathPrefix || strings.HasPrefix(r.URL.Path, PathPrefix+"/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Handler serves:
//
//	POST   /iot/json?k=&i=               a device's measurements (device token in X-Device-Token)
//	GET    /iot/about                    versions (no credentials)
//	GET|POST|PUT|DELETE /iot/services    config groups
//	GET|POST /iot/devices                devices
//	GET|PUT|DELETE /iot/devices/{id}     one device
//	POST|DELETE /iot/devices/{id}/token  rotate (new token shown once) or revoke a device's token
//	POST   /iot/devices/{id}/commands    {"<cmd>": value}: send commands over MQTT
//
// The provisioning routes need the hub's credentials and the iot grant
// (read for GET, write otherwise) or an admin.
func (s *Service) Handler(a Authenticator) http.Handler {
	mux := http.NewServeMux()
	prov := func(pattern string, need auth.Perm, h func(w http.ResponseWriter, r *http.Request, sc scope) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := s.authorize(a, r, need); err != nil {
				writeError(w, err)
				return
			}
			strict := r.Method == http.MethodGet && r.URL.Path == PathServices
			sc, err := s.scopeOf(r, strict)
			if err != nil {
				writeError(w, err)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxProvisionBody)
			if err := h(w, r, sc); err != nil {
				writeError(w, err)
			}
		})
	}
	mux.HandleFunc("POST "+PathJSON, s.serveJSON)
	mux.HandleFunc("GET "+PathAbout, s.serveAbout)
	prov("GET "+PathServices, auth.Read, s.getGroups)
	prov("POST "+PathServices, auth.Write, s.postGroups)
	prov("PUT "+PathServices, auth.Write, s.putGroup)
	prov("DELETE "+PathServices, auth.Write, s.deleteGroup)
	prov("GET "+PathDevices, auth.Read, s.getDevices)
	prov("POST "+PathDevices, auth.Write, s.postDevices)
	prov("GET "+PathDevices+"/{id}", auth.Read, s.getDevice)
	prov("PUT "+PathDevices+"/{id}", auth.Write, s.putDevice)
	prov("DELETE "+PathDevices+"/{id}", auth.Write, s.deleteDevice)
	prov("POST "+PathDevices+"/{id}/token", auth.Write, s.postToken)
	prov("DELETE "+PathDevices+"/{id}/token", auth.Write, s.deleteToken)
	prov("POST "+PathDevices+"/{id}/commands", auth.Write, s.postCommands)
	mux.HandleFunc(PathPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Code: http.StatusNotFound, Name: NameNotFound, Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

func (s *Service) authorize(a Authenticator, r *http.Request, need auth.Perm) error {
	id, secret := r.Header.Get("X-User-ID"), r.Header.Get("X-Auth-Token")
	if id == "" && secret == "" {
		q := r.URL.Query()
		id, secret = q.Get("appId"), q.Get("keyId")
	}
	p, err := a.Authenticate(r.Context(), id, secret)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthorized) {
			return &Error{Code: http.StatusUnauthorized, Name: NameUnauthorized, Message: err.Error()}
		}
		return err
	}
	if !p.Authenticated() {
		return &Error{Code: http.StatusUnauthorized, Name: NameUnauthorized, Message: "credentials required: send X-User-ID and X-Auth-Token (from /api/v2/login), or appId and keyId"}
	}
	if !p.Admin && !p.Can(Grant, need) {
		return &Error{Code: http.StatusForbidden, Name: NameAccessForbidden, Message: fmt.Sprintf("%s %q needs the grant {%q: %q}", p.Kind, p.ID, Grant, need.String())}
	}
	return nil
}

// scope is a request's fiware-service and fiware-servicepath.
type scope struct{ service, sub string }

// scopeOf reads the headers; with strict both are required, else missing
// ones take the configured defaults.
func (s *Service) scopeOf(r *http.Request, strict bool) (scope, error) {
	sc := scope{service: r.Header.Get(HeaderService), sub: r.Header.Get(HeaderServicePath)}
	if strict {
		var missing []string
		if sc.service == "" {
			missing = append(missing, "fiware-service")
		}
		if sc.sub == "" {
			missing = append(missing, "fiware-servicepath")
		}
		if len(missing) > 0 {
			return sc, missingHeaders(missing...)
		}
	}
	if sc.service == "" {
		sc.service = s.cfg.DefaultService
	}
	if sc.sub == "" {
		sc.sub = s.cfg.DefaultSubservice
	}
	l, err := LayerOf(sc.service)
	if err != nil {
		return sc, wrongSyntax("%v", err)
	}
	if s.reserved(l) {
		return sc, wrongSyntax("fiware-service %q maps to layer %q, which is reserved", sc.service, l)
	}
	if err := checkServicePath(sc.sub); err != nil {
		return sc, wrongSyntax("%v", err)
	}
	return sc, nil
}

// writable refuses the wildcard service path where one path is needed.
func (sc scope) writable() error {
	if sc.sub == "/*" || strings.Contains(sc.sub, "*") {
		return wrongSyntax("fiware-servicepath %q: a wildcard selects, it cannot be written to", sc.sub)
	}
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, payloadTooLarge(mbe.Limit)
	}
	if err != nil {
		return nil, wrongSyntax("read the body: %v", err)
	}
	return b, nil
}

func (s *Service) serveAbout(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"libVersion": DefaultLibVersion, "port": s.port, "baseRoot": "/", "version": s.version})
}

func (s *Service) getGroups(w http.ResponseWriter, _ *http.Request, sc scope) error {
	gs := s.reg.listGroups(sc.service, sc.sub)
	if gs == nil {
		gs = []Group{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(gs), "services": gs})
	return nil
}

func (s *Service) postGroups(w http.ResponseWriter, r *http.Request, sc scope) error {
	if err := sc.writable(); err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	gs, err := decodeItems[Group](b, "services")
	if err != nil {
		return err
	}
	for _, g := range gs {
		g.Service, g.Subservice = sc.service, sc.sub
		if e := checkGroup(g); e != nil {
			return e
		}
	}
	if err := s.reg.addGroups(r.Context(), gs); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// provisioningBody is the body of POST /iot/services ({"services": […]})
// and of POST /iot/devices ({"devices": […]}).
type provisioningBody struct {
	Services []json.RawMessage `json:"services"`
	Devices  []json.RawMessage `json:"devices"`
}

// decodeItems reads the body of a provisioning POST, {"<key>": […]} with
// key "services" or "devices": the array must not be empty and each item
// is decoded strictly into a T (the error names the item).
func decodeItems[T any](b []byte, key string) ([]*T, error) {
	var body provisioningBody
	if err := decodeStrict(b, &body); err != nil {
		return nil, wrongSyntax("%v", err)
	}
	items, other, otherKey := body.Services, body.Devices, "devices"
	if key == "devices" {
		items, other, otherKey = body.Devices, body.Services, "services"
	}
	if other != nil {
		return nil, wrongSyntax("json: unknown field %q", otherKey)
	}
	if len(items) == 0 {
		return nil, wrongSyntax("the body needs a non-empty %s array", key)
	}
	out := make([]*T, 0, len(items))
	for i, raw := range items {
		v := new(T)
		if err := decodeStrict(raw, v); err != nil {
			return nil, wrongSyntax("%s[%d]: %v", key, i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// groupParams reads the resource and apikey query parameters.
func groupParams(r *http.Request) (string, string, error) {
	q := r.URL.Query()
	res, key := q.Get("resource"), q.Get("apikey")
	var missing []string
	if res == "" {
		missing = append(missing, "resource")
	}
	if key == "" {
		missing = append(missing, "apikey")
	}
	if len(missing) > 0 {
		return "", "", mandatoryParams(missing...)
	}
	return res, key, nil
}

func (s *Service) putGroup(w http.ResponseWriter, r *http.Request, sc scope) error {
	res, key, err := groupParams(r)
	if err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	g, err := s.reg.updateGroup(r.Context(), sc.service, sc.sub, res, key, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (s *Service) deleteGroup(w http.ResponseWriter, r *http.Request, sc scope) error {
	res, key, err := groupParams(r)
	if err != nil {
		return err
	}
	gone, err := s.reg.deleteGroup(r.Context(), sc.service, sc.sub, res, key, r.URL.Query().Get("device") == "true")
	for _, k := range gone {
		s.lim.Forget(k)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (s *Service) getDevices(w http.ResponseWriter, r *http.Request, sc scope) error {
	q := r.URL.Query()
	offset, limit := 0, 0
	for _, p := range []struct {
		name string
		v    *int
	}{{"offset", &offset}, {"limit", &limit}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return wrongSyntax("%s %q is not a non-negative integer", p.name, v)
			}
			*p.v = n
		}
	}
	ds, n := s.reg.listDevices(sc.service, sc.sub, offset, limit)
	if n == 0 {
		// the seed: 404 when the service path has no device
		return &Error{Code: http.StatusNotFound, Name: NameDeviceNotFound, Message: fmt.Sprintf("No device was found in service %s and service path %s", sc.service, sc.sub)}
	}
	if ds == nil {
		ds = []Device{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n, "devices": ds})
	return nil
}

func (s *Service) postDevices(w http.ResponseWriter, r *http.Request, sc scope) error {
	if err := sc.writable(); err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	ds, err := decodeItems[Device](b, "devices")
	if err != nil {
		return err
	}
	for _, d := range ds {
		d.Service, d.ServicePath = sc.service, sc.sub
		if e := checkDevice(d); e != nil {
			return e
		}
		if d.EntityType == "" {
			g := s.groupFor(d)
			if g == nil {
				return missingAttributes("device %s has no entity_type and no config group of service %s, path %s gives one", d.DeviceID, sc.service, sc.sub)
			}
			d.EntityType = g.EntityType
		}
		if d.EntityName == "" {
			d.EntityName = entityName(d, s.groupFor(d))
		}
	}
	if s.reg.count()+len(ds) > s.cfg.MaxDevices {
		return &Error{Code: http.StatusForbidden, Name: NameDeviceLimit, Message: fmt.Sprintf("the hub would have more than iot.maxDevices (%d) devices", s.cfg.MaxDevices)}
	}
	if err := s.reg.addDevices(r.Context(), ds); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// groupFor is the group of a device being provisioned: the one of its
// apikey in its scope, else the only group of its scope.
func (s *Service) groupFor(d *Device) *Group {
	var found *Group
	for _, g := range s.reg.listGroups(d.Service, d.ServicePath) {
		if d.APIKey != "" && g.APIKey == d.APIKey {
			return &g
		}
		if found != nil {
			return nil
		}
		found = &g
	}
	if d.APIKey != "" {
		return nil
	}
	return found
}

func (s *Service) getDevice(w http.ResponseWriter, r *http.Request, sc scope) error {
	id := r.PathValue("id")
	d, ok := s.reg.device(sc.service, sc.sub, id)
	if !ok {
		return deviceNotFound(id)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Service) putDevice(w http.ResponseWriter, r *http.Request, sc scope) error {
	id := r.PathValue("id")
	b, err := readBody(r)
	if err != nil {
		return err
	}
	d, err := s.reg.updateDevice(r.Context(), sc.service, sc.sub, id, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Service) deleteDevice(w http.ResponseWriter, r *http.Request, sc scope) error {
	id := r.PathValue("id")
	if err := s.reg.deleteDevice(r.Context(), sc.service, sc.sub, id); err != nil {
		return err
	}
	s.lim.Forget(deviceKey{sc.service, id})
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// postToken makes a new token for a device, replacing the old one; the
// token is in this answer only.
func (s *Service) postToken(w http.ResponseWriter, r *http.Request, sc scope) error {
	id := r.PathValue("id")
	tok, hash, err := newToken()
	if err != nil {
		return fmt.Errorf("make a token: %w", err)
	}
	if err := s.reg.setToken(r.Context(), sc.service, sc.sub, id, hash, s.now()); err != nil {
		return err
	}
	d, _ := s.reg.device(sc.service, sc.sub, id)
	writeJSON(w, http.StatusCreated, map[string]any{"device_id": id, "token": tok, "token_created": d.TokenCreated})
	return nil
}

func (s *Service) deleteToken(w http.ResponseWriter, r *http.Request, sc scope) error {
	id := r.PathValue("id")
	if err := s.reg.setToken(r.Context(), sc.service, sc.sub, id, "", s.now()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// serveJSON is the southbound HTTP binding of the IoT Agent JSON.
func (s *Service) serveJSON(w http.ResponseWriter, r *http.Request) {
	in, err := iotjson.ReadHTTP(w, r, s.cfg.MaxPayload, maxPayloadSetting)
	if err != nil {
		s.refused.Add(1)
		writeError(w, err)
		return
	}
	if err := s.Ingest(r.Context(), in); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			s.log.Error("iot: store a reading", "device", in.DeviceID, "err", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Service) postCommands(w http.ResponseWriter, r *http.Request, sc scope) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var cmds map[string]any
	if err := decodeStrict(b, &cmds); err != nil {
		return wrongSyntax("%v", err)
	}
	if err := s.SendCommand(r.Context(), sc.service, sc.sub, r.PathValue("id"), cmds); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
