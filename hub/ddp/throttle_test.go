package ddp

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/shared/config"
)

// restLogin posts a REST login and returns the status and Retry-After.
func (e *env) restLogin(t *testing.T, user, password string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user, "password": password})
	resp, err := http.Post(e.http.URL+api.Prefix+"/login", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// loginError logs in over c and returns the error object (nil on success).
func loginError(t *testing.T, c *client, user string, password any) map[string]any {
	t.Helper()
	_, r := c.call("l", "login", map[string]any{"user": map[string]any{"username": user}, "password": password})
	if r["error"] == nil {
		return nil
	}
	return r["error"].(map[string]any)
}

// want429 checks a throttled DDP error: 429 with details.timeToReset.
func want429(t *testing.T, what string, e map[string]any) {
	t.Helper()
	if e == nil || e["error"] != 429.0 {
		t.Fatalf("%s: %v, want a 429 error", what, e)
	}
	d, _ := e["details"].(map[string]any)
	if ms, _ := d["timeToReset"].(float64); ms <= 0 {
		t.Fatalf("%s: %v, want details.timeToReset > 0", what, e)
	}
}

// TestAttackPasswordGuessingOverDDPIsThrottledAsREST: an attacker guessing
// a user's password over DDP, reconnecting after every guess so that no
// per-connection count ever trips, is locked out after the REST API's
// per-account limit exactly as over REST: the next attempt, even with the
// right password, is refused with 429 before any bcrypt comparison, and
// REST logins of the account are refused too (one shared throttle); and
// failures made over REST lock DDP logins out.
func TestAttackPasswordGuessingOverDDPIsThrottledAsREST(t *testing.T) {
	const perAccount = 4
	e := newEnv(t, Limits{}, func(c *api.Config) {
		c.Auth.LoginThrottle = api.LoginThrottleConfig{PerAccount: perAccount, PerClient: 100,
			Lockout: config.Duration(time.Minute), MaxLockout: config.Duration(15 * time.Minute)}
	})
	for i := range perAccount {
		c := e.connected() // a new connection for every guess
		pw := any("guess-" + string(rune('a'+i)))
		if i%2 == 1 {
			pw = map[string]any{"digest": digestHex("guess"), "algorithm": "sha-256"}
		}
		if got := loginError(t, c, "alice", pw); got == nil || got["error"] != 403.0 {
			t.Fatalf("guess %d: %v, want the 403 of a wrong password", i, got)
		}
		c.ws.Close()
	}
	c := e.connected()
	want429(t, "DDP login with the right password after the lock-out", loginError(t, c, "alice", "alice-password"))
	want429(t, "DDP digest login after the lock-out",
		loginError(t, c, "alice", map[string]any{"digest": digestHex("alice-password"), "algorithm": "sha-256"}))
	if code, ra := e.restLogin(t, "alice", "alice-password"); code != http.StatusTooManyRequests || ra == "" {
		t.Fatalf("REST login after DDP guesses: %d Retry-After %q, want 429 with Retry-After", code, ra)
	}
	// Other accounts are not locked out by alice's.
	if got := loginError(t, c, "pub", "pub-password"); got != nil {
		t.Fatalf("login of another account: %v", got)
	}

	// The other way round: guesses over REST lock DDP out.
	for range perAccount {
		if code, _ := e.restLogin(t, "admin", "wrong"); code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Fatalf("REST guess: %d, want 401/403", code)
		}
	}
	want429(t, "DDP login after REST guesses", loginError(t, e.connected(), "admin", "admin-password"))
}

// TestAttackGuessingManyAccountsIsThrottledPerClient: one client trying a
// password on many accounts, one per connection, is locked out at the
// per-client limit, as over REST.
func TestAttackGuessingManyAccountsIsThrottledPerClient(t *testing.T) {
	const perClient = 5
	e := newEnv(t, Limits{}, func(c *api.Config) {
		c.Auth.LoginThrottle = api.LoginThrottleConfig{PerAccount: 100, PerClient: perClient}
	})
	for i := range perClient {
		c := e.connected()
		if got := loginError(t, c, "user"+string(rune('a'+i)), "password"); got == nil || got["error"] != 403.0 {
			t.Fatalf("guess %d: %v, want 403", i, got)
		}
		c.ws.Close()
	}
	want429(t, "a further account from the same client", loginError(t, e.connected(), "alice", "alice-password"))
	if code, _ := e.restLogin(t, "alice", "alice-password"); code != http.StatusTooManyRequests {
		t.Fatalf("REST login from the locked-out client: %d, want 429", code)
	}
}

// TestAttackMethodFloodIsRateLimited: a client flooding method calls and
// subscriptions gets 429 once its REST rate bucket (http.rateLimit) is
// empty; the bucket is the user's, shared with REST, and an anonymous
// client's bucket (its address) survives reconnecting.
func TestAttackMethodFloodIsRateLimited(t *testing.T) {
	const burst = 10
	e := newEnv(t, Limits{}, func(c *api.Config) {
		c.HTTP.RateLimit = api.RateLimitConfig{PerSecond: 0.5, Burst: burst}
	})
	c := e.connected()
	res := c.login("alice", "alice-password") // 1 request of the anonymous bucket
	const flood = 50
	for i := range flood {
		c.send(map[string]any{"msg": "method", "id": "m" + string(rune('A'+i)), "method": "isLogged", "params": []any{}})
	}
	ok, limited := 0, 0
	for n := 0; n < flood; {
		m := c.read()
		if m["msg"] != "result" {
			continue
		}
		n++
		if m["error"] == nil {
			ok++
			continue
		}
		want429(t, "flooded method", m["error"].(map[string]any))
		limited++
	}
	// The burst plus at most a token or two refilled during the test.
	if ok < burst-1 || ok > burst+2 || limited != flood-ok {
		t.Fatalf("%d calls answered, %d limited; want about %d answered", ok, limited, burst)
	}
	msgs := c.sub("s", "demo_meters.all")
	if last := msgs[len(msgs)-1]; last["msg"] != "nosub" {
		t.Fatalf("subscription after the flood: %v, want nosub 429", last)
	} else {
		want429(t, "subscription after the flood", last["error"].(map[string]any))
	}
	// The bucket is alice's REST bucket too.
	req, _ := http.NewRequest("GET", e.http.URL+api.Prefix+"/me", nil)
	req.Header.Set("X-User-ID", res["id"].(string))
	req.Header.Set("X-Auth-Token", res["token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("REST request of alice after her DDP flood: %d, want 429", resp.StatusCode)
	}

	// Anonymous: the client address's bucket, not the connection's.
	anon := 0
	for range 3 {
		a := e.connected()
		for range burst {
			if _, r := a.call("x", "isLogged"); r["error"] == nil {
				anon++
			}
		}
		a.ws.Close()
	}
	if anon > burst+2 {
		t.Fatalf("%d anonymous calls answered over 3 connections, want at most about %d (one bucket per address)", anon, burst)
	}
}
