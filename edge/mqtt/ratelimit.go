package mqtt

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridedge/gridedge/edge/settings"
)

// bucket is a token bucket: it holds at most burst tokens and gains rate
// tokens a second. A new bucket is full.
type bucket struct {
	tokens float64
	last   time.Time
}

// refill brings b up to now under limit l.
func (b *bucket) refill(now time.Time, l RateLimit) {
	if b.last.IsZero() {
		b.tokens, b.last = float64(l.Burst), now
		return
	}
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(float64(l.Burst), b.tokens+d*l.Rate)
		b.last = now
	}
}

// varKey names one variable of one slave.
type varKey struct {
	slave int
	name  string
}

// limiter holds the write rate limits of a bridge: one bucket per variable
// of each slave and one per bus. Writes waiting for a token are not queued:
// a write finding its bucket empty is refused.
type limiter struct {
	o     WriteLimits
	busOf []string // slave index → bus key

	mu   sync.Mutex
	vars map[varKey]*bucket
	bus  map[string]*bucket
}

func newLimiter(s *settings.Settings, o WriteLimits) *limiter {
	l := &limiter{o: o, vars: map[varKey]*bucket{}, bus: map[string]*bucket{}}
	for i := range s.ModbusSlaves {
		l.busOf = append(l.busOf, busKey(&s.ModbusSlaves[i]))
	}
	return l
}

// busKey names the field bus a slave is on: slaves with the same ip and
// port (a device or a TCP gateway), or the same serialPort, share one.
func busKey(sl *settings.Slave) string {
	if sl.IP == "" {
		return sl.SerialPort
	}
	port := sl.Port
	if port == 0 {
		port = 502
	}
	host := sl.IP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// take takes one token per variable from the variables' buckets and one
// per variable from the slave's bus bucket, all or none. When a bucket is
// short it returns, for every variable, why it is refused (nil for none
// refused); it takes nothing then.
func (l *limiter) take(now time.Time, slave int, names []string) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := make([]error, len(names))
	var limited []string
	for i, n := range names {
		b := l.vars[varKey{slave, n}]
		if b == nil {
			b = &bucket{}
			l.vars[varKey{slave, n}] = b
		}
		b.refill(now, l.o.Variable)
		if b.tokens < 1 {
			errs[i] = fmt.Errorf("%s: %w: at most %v writes/s, burst %d, per variable", n, ErrRateLimited, l.o.Variable.Rate, l.o.Variable.Burst)
			limited = append(limited, n)
		}
	}
	key := l.busOf[slave]
	bb := l.bus[key]
	if bb == nil {
		bb = &bucket{}
		l.bus[key] = bb
	}
	bb.refill(now, l.o.Bus)
	if len(limited) == 0 && bb.tokens < float64(len(names)) {
		for i, n := range names {
			errs[i] = fmt.Errorf("%s: %w: at most %v writes/s, burst %d, on bus %s", n, ErrRateLimited, l.o.Bus.Rate, l.o.Bus.Burst, key)
		}
		return errs
	}
	if len(limited) > 0 {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("%w (%s)", ErrMessageRefused, strings.Join(limited, ", "))
			}
		}
		return errs
	}
	for _, n := range names {
		l.vars[varKey{slave, n}].tokens--
	}
	bb.tokens -= float64(len(names))
	return nil
}
