package expression

import (
	"testing"
	"time"
)

// BenchmarkEval measures Eval of precompiled programs on a typical reading.
func BenchmarkEval(b *testing.B) {
	env := map[string]any{
		"value": 231.7, "ts": int64(1637245214901), "location": "40.4165, -3.70256",
		"longitude": 5.1, "latitude": 37.2, "name": "DevId629",
	}
	for _, bc := range []struct{ name, src string }{
		{"scale", "value * 0.1 + 3"},
		{"toisodate", "ts|toisodate"},
		{"split_parsefloat", "location | split(', ')[1] | parsefloat()"},
		{"geojson", "{coordinates: [longitude,latitude], type: 'Point'}"},
		{"substr_indexOf", `name|substr(0,name|indexOf("e")+1)`},
		{"ternary", `value > 230 ? "high" : "ok"`},
	} {
		p, err := Compile(bc.src, Options{Location: time.UTC})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Eval(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompile measures parsing and compiling one expression.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("location | split(', ')[1] | parsefloat()", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
