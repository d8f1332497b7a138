package iot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngestHTTP measures readings/s over HTTP (POST /iot/json) with
// the transformation on: a config group with two expression attributes
// and a static attribute, 16 × GOMAXPROCS devices (one goroutine each,
// autoprovisioned by their first reading) posting concurrently, each reading
// written to the bolt store and the TSDB history.
func BenchmarkIngestHTTP(b *testing.B) {
	h := newHarness(b, func(c *Config) { c.RateLimit = RateConfig{PerSecond: 1e9, Burst: 1e9} })
	h.svc.now = time.Now
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"bench","resource":"/iot/json","entity_type":"Meter",
	 "static_attributes":[{"name":"site","value":"north"}],
	 "attributes":[{"object_id":"p","name":"power","type":"Number","expression":"p * 1000"},
	  {"object_id":"v","name":"voltage","type":"Number","expression":"v / 10"},{"object_id":"s","name":"state","type":"Text"}]}]}`,
		h.fiware("bench", "/"))
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var seq atomic.Int64
	b.SetParallelism(16) // 16 × GOMAXPROCS concurrent devices
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		dev := seq.Add(1)
		url := fmt.Sprintf("%s%s?k=bench&i=m%d", h.srv.URL, PathJSON, dev)
		i := 0
		for pb.Next() {
			i++
			body := fmt.Sprintf(`{"p":%d.5,"v":2301,"s":"on"}`, i)
			resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	if st := h.svc.Stats(); st.Readings != uint64(b.N) {
		b.Errorf("readings %d, want %d", st.Readings, b.N)
	}
}

// BenchmarkIngestMQTT measures readings/s over the MQTT binding (QoS 1,
// through mosquitto) with the same transformation as BenchmarkIngestHTTP:
// 8 devices publish concurrently; the time runs until the hub stored every
// reading.
func BenchmarkIngestMQTT(b *testing.B) {
	// the publishers are faster than the hub: let mosquitto queue for it
	// (its default drops beyond 1000 queued messages)
	addr := startMosquitto(b, "max_queued_messages 0")
	h := newHarness(b, func(c *Config) {
		c.RateLimit = RateConfig{PerSecond: 1e9, Burst: 1e9}
		c.MQTT.URL = "mqtt://" + addr
	})
	h.svc.now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(b, "the binding's subscriptions", h.svc.mqttReady.Load)
	h.must(200, "POST", PathServices, `{"services":[{"apikey":"bench","resource":"/iot/json","entity_type":"Meter",
	 "static_attributes":[{"name":"site","value":"north"}],
	 "attributes":[{"object_id":"p","name":"power","type":"Number","expression":"p * 1000"},
	  {"object_id":"v","name":"voltage","type":"Number","expression":"v / 10"},{"object_id":"s","name":"state","type":"Text"}]}]}`,
		h.fiware("bench", "/"))
	const devices = 8
	devs := make([]*device, devices)
	for i := range devs {
		devs[i] = connectDevice(b, addr, fmt.Sprintf("m%d", i))
	}
	start := h.svc.Stats().Readings
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, d := range devs {
		n := b.N / devices
		if i < b.N%devices {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				d.publish(b, fmt.Sprintf("bench/m%d/attrs", i), fmt.Sprintf(`{"p":%d.5,"v":2301,"s":"on"}`, j))
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(time.Minute)
	for h.svc.Stats().Readings-start < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("stored %d of %d readings", h.svc.Stats().Readings-start, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
