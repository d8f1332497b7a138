package api

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the API over HTTP on the bolt store. The MongoDB backend's
// figures come from the store's own benchmarks (hub/store/mongo).

const benchClients = 32

// benchEnv is an API with rate limiting off and n meter documents.
func benchEnv(b *testing.B, n int) (*env, cred, *http.Client) {
	b.Helper()
	e := newEnv(b)
	user := e.addUser("bench", map[string]Perm{"demo": PermWrite})
	for i := 0; i < n; i += 1000 {
		var docs []any
		for j := i; j < min(n, i+1000); j++ {
			docs = append(docs, map[string]any{"_id": fmt.Sprintf("M%06d", j), "n": j, "name": fmt.Sprintf("meter %d", j),
				"measurements": map[string]any{"activePower": map[string]any{"value": float64(j) * 1.5, "quality": 1}}})
		}
		e.must("POST", "/bulk/demo/meters", map[string]any{"data": docs}, user)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients, MaxConnsPerHost: 2 * benchClients}}
	b.Cleanup(client.CloseIdleConnections)
	return e, user, client
}

// runClients sends b.N requests from benchClients goroutines and reports
// requests/s, the 99th percentile latency and the process CPU time per
// request (cpu-µs/req: server and clients together, since both run in this
// process; a CPU profile splits them: samples under net/http.(*conn).serve
// are the server's).
func runClients(b *testing.B, client *http.Client, newReq func(i int) *http.Request) {
	b.Helper()
	cpu0 := processCPU(b)
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				req := newReq(i)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[c] = append(lat[c], time.Since(t0))
				if resp.StatusCode != 200 {
					failed.Store(resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatalf("request failed: %v", f)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// processCPU is the user and system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkGetByID32(b *testing.B) {
	e, user, client := benchEnv(b, 10000)
	runClients(b, client, func(i int) *http.Request {
		return e.request("GET", fmt.Sprintf("/demo/meters/M%06d", i%10000), nil, user)
	})
}

// BenchmarkFindSmall32 runs a find whose selector pins _id, so the result
// is one document: the request path of find without a scan.
func BenchmarkFindSmall32(b *testing.B) {
	e, user, client := benchEnv(b, 10000)
	runClients(b, client, func(i int) *http.Request {
		q := url.Values{"query": {fmt.Sprintf(`{"_id":"M%06d"}`, (i*37)%10000)}}
		return e.request("GET", "/demo/meters?"+q.Encode(), nil, user)
	})
}

// BenchmarkFindSelector32 runs a range selector over 10,000 documents (a
// scan on the bolt backend), sorted, 10 per page.
func BenchmarkFindSelector32(b *testing.B) {
	e, user, client := benchEnv(b, 10000)
	runClients(b, client, func(i int) *http.Request {
		lo := (i * 37) % 9990
		q := url.Values{"query": {fmt.Sprintf(`{"n":{"$gte":%d,"$lt":%d},"measurements.activePower.quality":1}`, lo, lo+10)},
			"sort": {`{"n":-1}`}, "limit": {"10"}}
		return e.request("GET", "/demo/meters?"+q.Encode(), nil, user)
	})
}

// BenchmarkBulkInsert posts 1,000 new documents per request.
func BenchmarkBulkInsert(b *testing.B) {
	e, user, client := benchEnv(b, 0)
	const per = 1000
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		docs := make([]any, per)
		for j := range docs {
			docs[j] = map[string]any{"_id": fmt.Sprintf("B%d-%d", i, j), "n": j,
				"measurements": map[string]any{"activePower": map[string]any{"value": 1.5, "quality": 1, "timestamp": "2024-01-01T00:00:00Z"}}}
		}
		resp, err := client.Do(e.request("POST", "/bulk/demo/meters", map[string]any{"data": docs}, user))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
	b.ReportMetric(float64(b.N*per)/time.Since(start).Seconds(), "docs/s")
}
