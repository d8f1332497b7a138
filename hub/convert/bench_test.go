package convert

import (
	"testing"
	"time"
)

// BenchmarkTemplate is converter calls/s for the seed's template without
// its JavaScript function (placeholders only).
func BenchmarkTemplate(b *testing.B) {
	c := mustCompile(b, map[string]any{"_id": "t", "template": map[string]any{
		"id": "{{id}}", "name": "meter {{id}}",
		"measurements": map[string]any{"activeEnergyExported": map[string]any{"timestamp": "{{timestamp}}", "value": "{{AEexp}}"}},
	}}, Limits{})
	src := map[string]any{"id": "SM001", "timestamp": time.Now(), "AEexp": 12.5}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Apply(src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkTemplateWithFunction is the seed's template, whose date field
// calls the JavaScript function toISO.
func BenchmarkTemplateWithFunction(b *testing.B) {
	c := mustCompile(b, seedTemplate, Limits{})
	src := map[string]any{"id": "SM001", "timestamp": 1714557600000.0, "AEexp": 12.5}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Apply(src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkCode is the seed's transformation by function.
func BenchmarkCode(b *testing.B) {
	c := mustCompile(b, seedCode, Limits{})
	src := map[string]any{"id": "SM001", "timestamp": 1714557600000.0, "measurements": map[string]any{"activePower": map[string]any{"value": 12.5, "quality": 1.0}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Apply(src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
