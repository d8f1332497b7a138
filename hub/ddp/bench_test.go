package ddp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gridedge/gridedge/hub/api"
	"github.com/gridedge/gridedge/hub/store"
)

// benchBase is the origin of the t0 stamps the fan-out benchmark writes
// (microseconds, small enough to encode as an integer).
var benchBase = time.Now()

// benchClient is a light subscribed client: small buffers, one reader.
func benchDial(b *testing.B, url string) *websocket.Conn {
	d := websocket.Dialer{ReadBufferSize: 512, WriteBufferSize: 512, WriteBufferPool: &sync.Pool{}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	_, _, _ = ws.ReadMessage() // server_id
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"msg":"connect","version":"1","support":["1"]}`))
	if _, m, err := ws.ReadMessage(); err != nil || !bytes.Contains(m, []byte("connected")) {
		b.Fatalf("handshake: %s %v", m, err)
	}
	return ws
}

// benchLogin logs ws in as alice and subscribes to demo_meters.all.
func benchSubscribe(b *testing.B, ws *websocket.Conn) {
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"msg":"method","id":"l","method":"login","params":[{"user":{"username":"alice"},"password":"alice-password"}]}`))
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"msg":"sub","id":"s","name":"demo_meters.all","params":[]}`))
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(m, []byte(`"ready"`)) {
			return
		}
	}
}

// BenchmarkFanout: 1,000 subscribed connections each receive every change
// of a collection written at 500 updates/s, as an edge writes them (a
// batch of 25 document updates every 50 ms, one store transaction each);
// reports the latency from the moment the store write returned (the hub's
// apply) to the client's frame (p50, p99; a frame that arrives before the
// write call returned counts as 0), the messages delivered per second and
// the share of updates delivered (below 100% when the merge box merged
// successive values of a document for a client that fell behind).
// b.N is the number of updates (a multiple of 25). DDP_BENCH_CONNS sets
// another number of connections.
//
//	go test -run XXX -bench Fanout -benchtime 5000x ./ddp/
func BenchmarkFanout(b *testing.B) {
	const batch, every = 25, 50 * time.Millisecond
	conns := 1000
	if v, err := strconv.Atoi(os.Getenv("DDP_BENCH_CONNS")); err == nil && v > 0 {
		conns = v // a smaller run on a busy machine
	}
	// Every connection is alice's from one address: the REST rate limit
	// (which DDP shares) would refuse most subscriptions.
	e := newEnv(b, Limits{}, func(c *api.Config) { c.HTTP.RateLimit.Off = true })
	var docs []store.Document
	for i := range batch {
		docs = append(docs, store.Document{"_id": fmt.Sprintf("M%02d", i), "name": "meter", "seq": -1.0})
	}
	res, err := e.ws.Insert(context.Background(), "demo", "meters", docs)
	if err != nil || res.OK != len(docs) {
		b.Fatal(err)
	}
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/websocket"
	clients := make([]*websocket.Conn, conns)
	for i := range clients {
		clients[i] = benchDial(b, url)
	}
	var wg sync.WaitGroup
	for _, ws := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			benchSubscribe(b, ws)
		}()
	}
	wg.Wait()
	updates := (b.N + batch - 1) / batch * batch
	type stamp struct {
		seq int
		at  time.Duration
	}
	recv := make([][]stamp, conns)
	for i, ws := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]stamp, 0, updates)
			// Done when the last batch arrived: the merge box sends a
			// client that fell behind only the latest value of a document
			// (as Meteor's does), so some earlier values may never come.
			last, lastData := 0, time.Now()
			var deadline time.Time
			for last < batch && time.Since(lastData) < 30*time.Second {
				if now := time.Now(); now.Sub(deadline) > -29*time.Second {
					deadline = now.Add(30 * time.Second) // not a timer reset per frame
					_ = ws.SetReadDeadline(deadline)
				}
				_, m, err := ws.ReadMessage()
				if err != nil {
					break
				}
				j := bytes.Index(m, []byte(`"seq":`))
				if j < 0 {
					if bytes.Equal(m, []byte(`{"msg":"ping"}`)) {
						// A live client answers the server's heartbeat
						// (else it is closed after 30 s of silence).
						_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"msg":"pong"}`))
					}
					continue
				}
				k := j + 6
				for k < len(m) && m[k] >= '0' && m[k] <= '9' {
					k++
				}
				seq, _ := strconv.Atoi(string(m[j+6 : k]))
				if seq < 0 || seq >= updates {
					continue
				}
				got = append(got, stamp{seq, time.Since(benchBase)})
				lastData = time.Now()
				if seq >= updates-batch {
					last++
				}
			}
			recv[i] = got
		}()
	}
	ctx := context.Background()
	applied := make([]time.Duration, updates)
	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(every)
	for n := 0; n < updates; n += batch {
		<-tick.C
		up := make([]store.Document, batch)
		for i := range up {
			up[i] = store.Document{"_id": fmt.Sprintf("M%02d", i), "seq": float64(n + i)}
		}
		if _, err := e.ws.UpdateMany(ctx, "demo", "meters", up); err != nil {
			b.Fatal(err)
		}
		now := time.Since(benchBase)
		for i := range batch {
			applied[n+i] = now
		}
	}
	writeTime := time.Since(start)
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, r := range recv {
		for _, s := range r {
			all = append(all, max(0, s.at-applied[s.seq]))
		}
	}
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("no messages")
	}
	b.ReportMetric(float64(updates)/writeTime.Seconds(), "updates/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(len(all))/float64(conns*updates)*100, "delivered-%")
	b.ReportMetric(float64(e.srv.stats.cut.Load()), "cut")
	for _, ws := range clients {
		ws.Close()
	}
}

// BenchmarkIdleConnectionMemory: heap and stacks per connected idle
// session, the (small, reader-less) test client's share included.
//
//	go test -run XXX -bench IdleConnectionMemory -benchtime 1x ./ddp/
func BenchmarkIdleConnectionMemory(b *testing.B) {
	const conns = 1000
	e := newEnv(b, Limits{})
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/websocket"
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	for range b.N {
		before := measure()
		clients := make([]*websocket.Conn, conns)
		for i := range clients {
			clients[i] = benchDial(b, url)
		}
		time.Sleep(200 * time.Millisecond)
		after := measure()
		b.ReportMetric(float64(after-before)/conns/1024, "KB/conn")
		for _, ws := range clients {
			ws.Close()
		}
	}
}

// BenchmarkSubscribe50k: time from sub to ready for one subscription to a
// 50,000-document collection.
//
//	go test -run XXX -bench Subscribe50k -benchtime 3x ./ddp/
func BenchmarkSubscribe50k(b *testing.B) {
	const n = 50000
	e := newEnv(b, Limits{})
	docs := make([]store.Document, 0, 5000)
	for i := range n {
		docs = append(docs, store.Document{"_id": fmt.Sprintf("D%06d", i), "name": "meter",
			"measurements": map[string]any{"power": map[string]any{"value": float64(i), "quality": 1.0}}})
		if len(docs) == cap(docs) {
			if _, err := e.st.Insert(context.Background(), "demo", "other", docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/websocket"
	b.ResetTimer()
	for range b.N {
		ws := benchDial(b, url)
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"msg":"method","id":"l","method":"login","params":[{"user":{"username":"alice"},"password":"alice-password"}]}`))
		for {
			_, m, _ := ws.ReadMessage()
			if bytes.Contains(m, []byte(`"updated"`)) {
				break
			}
		}
		start := time.Now()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"msg":"sub","id":"s","name":"demo_other.all","params":[]}`))
		added := 0
		for {
			_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, m, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(m, []byte(`{"msg":"added"`)) {
				added++
			} else if bytes.Contains(m, []byte(`"ready"`)) {
				break
			}
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-ready")
		if added != n {
			b.Fatalf("added %d, want %d", added, n)
		}
		ws.Close()
	}
}
