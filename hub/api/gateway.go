package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/shared/subject"
)

// gatewayRequest is the body of POST /gateway (seed 3.3.1.2.22).
type gatewayRequest struct {
	NATSCredentials json.RawMessage `json:"natsCredentials"`
	Subject         string          `json:"subject"`
	Method          string          `json:"method"`
	Params          json.RawMessage `json:"params"`
}

// natsOptions turns natsCredentials into connection options: a creds
// file's text (JWT and seed), an object {user, password} or {token}, a
// "user:password" string, or a token string.
func natsOptions(raw json.RawMessage) ([]nats.Option, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, httpErrorf(http.StatusBadRequest, "natsCredentials is required")
	}
	var obj struct {
		User     string `json:"user"`
		Password string `json:"password"`
		Pass     string `json:"pass"`
		Token    string `json:"token"`
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, httpErrorf(http.StatusBadRequest, "natsCredentials must be a string or {user, password} or {token}")
		}
		switch {
		case obj.Token != "":
			return []nats.Option{nats.Token(obj.Token)}, nil
		case obj.User != "":
			return []nats.Option{nats.UserInfo(obj.User, obj.Password+obj.Pass)}, nil
		}
		return nil, httpErrorf(http.StatusBadRequest, "natsCredentials object needs user and password, or token")
	}
	switch {
	case s == "":
		return nil, httpErrorf(http.StatusBadRequest, "natsCredentials is empty")
	case strings.Contains(s, "BEGIN NATS USER JWT"):
		jwt, seed, err := credsParts(s)
		if err != nil {
			return nil, err
		}
		return []nats.Option{nats.UserJWTAndSeed(jwt, seed)}, nil
	case strings.Contains(s, ":"):
		u, p, _ := strings.Cut(s, ":")
		return []nats.Option{nats.UserInfo(u, p)}, nil
	}
	return []nats.Option{nats.Token(s)}, nil
}

// credsParts extracts the JWT and the seed from a NATS creds file.
func credsParts(s string) (jwt, seed string, err error) {
	block := func(kind string) string {
		_, after, ok := strings.Cut(s, "-----BEGIN "+kind+"-----")
		if !ok {
			return ""
		}
		body, _, _ := strings.Cut(after, "------END "+kind+"------")
		body, _, _ = strings.Cut(body, "-----END "+kind+"-----")
		return strings.TrimSpace(strings.Trim(strings.TrimSpace(body), "-"))
	}
	jwt, seed = block("NATS USER JWT"), block("USER NKEY SEED")
	if jwt == "" || seed == "" {
		return "", "", httpErrorf(http.StatusBadRequest, "natsCredentials: a creds file needs a user JWT and a user nkey seed")
	}
	return jwt, seed, nil
}

func (s *Server) gateway(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req gatewayRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	opts, err := natsOptions(req.NATSCredentials)
	if err != nil {
		return err
	}
	if req.Subject == "" {
		return httpErrorf(http.StatusBadRequest, "subject is required (without the domain, e.g. metrics.get)")
	}
	for _, tok := range strings.Split(req.Subject, ".") {
		if err := subject.CheckToken("subject token", tok); err != nil {
			return httpErrorf(http.StatusBadRequest, "subject %q: %v", req.Subject, err)
		}
	}
	method := req.Method
	if method == "" {
		method = "request"
	}
	if method != "request" && method != "publish" {
		return httpErrorf(http.StatusBadRequest, "method %q: want request or publish", method)
	}
	params := []byte(req.Params)
	if len(params) == 0 || string(params) == "null" {
		params = []byte("{}")
	}
	if s.Gateway.Dial == nil {
		return httpErrorf(http.StatusServiceUnavailable, "the NATS gateway is not available on this hub (NATS client listener off)")
	}
	full := req.Subject
	if s.Gateway.Domain != "" {
		full = s.Gateway.Domain + "." + req.Subject
	}
	// Permission violations arrive asynchronously: they end the request at
	// once instead of letting it time out.
	ctx, cancel := context.WithTimeoutCause(r.Context(), s.Config.Gateway.Timeout.Std(), errGatewayTimeout)
	defer cancel()
	asyncErr := make(chan error, 1)
	opts = append(opts, nats.Name("gridedge-gateway "+p.ID), nats.Timeout(s.Config.Gateway.Timeout.Std()), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case asyncErr <- err:
			default:
			}
		}))
	nc, err := s.Gateway.Dial(r.Context(), opts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization") {
			return httpErrorf(http.StatusForbidden, "NATS refused the natsCredentials: %v", err)
		}
		return httpErrorf(http.StatusBadGateway, "connect to NATS: %v", err)
	}
	defer nc.Close()
	if method == "publish" {
		if err := nc.Publish(full, params); err != nil {
			return httpErrorf(http.StatusBadGateway, "publish to %s: %v", full, err)
		}
		if err := nc.FlushTimeout(s.Config.Gateway.Timeout.Std()); err != nil {
			return httpErrorf(http.StatusBadGateway, "publish to %s: %v", full, err)
		}
		// A violation is reported after the flush's PONG at the latest.
		select {
		case err := <-asyncErr:
			return httpErrorf(http.StatusForbidden, "publish to %s: %v", full, err)
		default:
		}
		return success(w, "", nil)
	}
	type result struct {
		msg *nats.Msg
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := nc.RequestWithContext(ctx, full, params)
		done <- result{m, err}
	}()
	var res result
	select {
	case res = <-done:
	case err := <-asyncErr:
		cancel()
		<-done
		return httpErrorf(http.StatusForbidden, "request on %s: %v", full, err)
	}
	msg, err := res.msg, res.err
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return httpErrorf(http.StatusBadGateway, "no service answers on %s", full)
	case errors.Is(err, nats.ErrTimeout), errors.Is(context.Cause(ctx), errGatewayTimeout):
		return httpErrorf(http.StatusGatewayTimeout, "no reply on %s within %s", full, s.Config.Gateway.Timeout.Std())
	case err != nil:
		return httpErrorf(http.StatusBadGateway, "request on %s: %v", full, err)
	}
	var data any
	if json.Valid(msg.Data) {
		data = json.RawMessage(msg.Data)
	} else {
		data = string(msg.Data)
	}
	// A service that already answers in the API's envelope is passed through.
	var env struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(msg.Data, &env) == nil && (env.Status == "success" || env.Status == "error") {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(msg.Data)
		return nil
	}
	return success(w, "", data)
}

var errGatewayTimeout = errors.New("gateway timeout")
