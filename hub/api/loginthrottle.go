// Password guessing: failed password checks are counted per account and
// per client, and both are refused for a while, before bcrypt runs, once
// they fail too often.

package api

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gridedge/gridedge/hub/auth"
)

// throttle counts failures per key and locks a key out once it reaches its
// limit: for Lockout, doubling with every further failure up to
// MaxLockout. A key's count is forgotten after MaxLockout without failure.
type throttle struct {
	cfg LoginThrottleConfig

	mu        sync.Mutex
	keys      map[string]*failures
	lastSweep time.Time
}

type failures struct {
	n     int
	last  time.Time
	until time.Time
}

func newThrottle(cfg LoginThrottleConfig) *throttle {
	return &throttle{cfg: cfg, keys: map[string]*failures{}}
}

// wait is how long key stays locked out (0: not locked).
func (th *throttle) wait(key string, now time.Time) time.Duration {
	th.mu.Lock()
	defer th.mu.Unlock()
	if f := th.keys[key]; f != nil && now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// fail counts a failure of key, which is locked out from limit failures on.
func (th *throttle) fail(key string, limit int, now time.Time) {
	th.mu.Lock()
	defer th.mu.Unlock()
	maxLock := th.cfg.MaxLockout.Std()
	if now.Sub(th.lastSweep) > maxLock {
		for k, f := range th.keys {
			if now.Sub(f.last) > maxLock && !now.Before(f.until) {
				delete(th.keys, k)
			}
		}
		th.lastSweep = now
	}
	f := th.keys[key]
	if f == nil || now.Sub(f.last) > maxLock && !now.Before(f.until) {
		f = &failures{}
		th.keys[key] = f
	}
	f.n++
	f.last = now
	if f.n >= limit {
		d := th.cfg.Lockout.Std() * time.Duration(math.Pow(2, float64(min(f.n-limit, 20))))
		f.until = now.Add(min(d, maxLock))
	}
}

// reset forgets the failures of key.
func (th *throttle) reset(key string) {
	th.mu.Lock()
	delete(th.keys, key)
	th.mu.Unlock()
}

func (s *Server) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// throttledPassword runs check, a password comparison for account made by
// the client of r, unless the account or the client is locked out: then it
// answers 429 with Retry-After without running check. A wrong password
// (ErrUnauthorized or ErrForbidden) counts against both; success clears
// the account's count (not the client's: one good account must not let a
// client keep guessing others).
func (s *Server) throttledPassword(r *http.Request, account string, check func() error) error {
	d, err := s.checkPassword(account, s.clientIP(r), check)
	if d > 0 {
		return &httpError{status: http.StatusTooManyRequests, retryAfter: int(math.Ceil(d.Seconds())),
			msg: "too many failed password checks for this account or from this client; retry later"}
	}
	return err
}

// checkPassword runs check for account and client unless either is locked
// out; then it returns how long the lock-out lasts and does not run check.
func (s *Server) checkPassword(account, client string, check func() error) (time.Duration, error) {
	th := s.throttle
	if th.cfg.Off {
		return 0, check()
	}
	now := s.clock()
	acct, ckey := "account:"+s.accountKey(account), "client:"+client
	if d := max(th.wait(acct, now), th.wait(ckey, now)); d > 0 {
		return d, nil
	}
	err := check()
	switch {
	case err == nil:
		th.reset(acct)
	case errors.Is(err, auth.ErrUnauthorized), errors.Is(err, auth.ErrForbidden):
		th.fail(acct, th.cfg.PerAccount, now)
		th.fail(ckey, th.cfg.PerClient, now)
		s.log().Warn("failed password check", "account", account, "client", client)
	}
	return 0, err
}

// accountKey is the throttle's key for a login as account: the user's id
// when the account names an existing user by name or e-mail, so that both
// spellings count against one budget.
func (s *Server) accountKey(account string) string {
	if s.Auth == nil {
		return strings.ToLower(account)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Auth.AccountKey(ctx, account)
}

// Guard is the REST API's login throttle (auth.loginThrottle) and rate
// limiter (http.rateLimit), for the other front ends on the API's port
// (DDP): a client meets the same limits, with the same counts, whichever
// protocol it uses, and reconnecting resets nothing. Its methods are safe
// for concurrent use.
type Guard struct{ s *Server }

// Guard returns the API's guard; the API's configuration must be final.
func (s *Server) Guard() *Guard {
	s.init()
	return &Guard{s: s}
}

// ClientIP is the address of the client of r: the peer's, or, when the
// peer is a trusted proxy (http.trustedProxies), the client X-Forwarded-For
// names.
func (g *Guard) ClientIP(r *http.Request) string { return g.s.clientIP(r) }

// CheckPassword runs check, a password comparison for account made from
// client, unless the account or the client is locked out: then it returns
// the time left and does not run check. Failures count as a REST login's.
func (g *Guard) CheckPassword(account, client string, check func() error) (retryAfter time.Duration, err error) {
	return g.s.checkPassword(account, client, check)
}

// Allow takes one request from the bucket REST uses for p (its user or
// app), or for client when p is anonymous; when the bucket is empty it
// returns false and the time until a request is allowed again.
func (g *Guard) Allow(p *auth.Principal, client string) (ok bool, retryAfter time.Duration) {
	key := "addr:" + client
	if p != nil && p.Authenticated() {
		key = p.RateKey()
	}
	if g.s.limiter.allow(key) {
		return true, 0
	}
	return false, time.Duration(g.s.limiter.retryAfter()) * time.Second
}

// clientIP is the address of the client: the peer's, or, when the peer is
// a trusted proxy, the last address of X-Forwarded-For that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: stop at the last address we could trust
		}
		client = a.Unmap()
		if !s.trusted(client) {
			break
		}
	}
	return client.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseProxies reads trusted proxies: addresses or CIDR prefixes.
func parseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range list {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, errors.New(v + " is neither an IP address nor a CIDR prefix")
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
