package opcua

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/gridedge/gridedge/edge/settings"
	"github.com/gridedge/gridedge/shared/model"
)

func TestQualityFromStatusSeverity(t *testing.T) {
	for _, tc := range []struct {
		sc   ua.StatusCode
		want int
	}{
		{ua.StatusOK, model.QualityGood},
		{ua.StatusGoodClamped, model.QualityGood},
		{ua.StatusUncertainLastUsableValue, model.QualitySuspect},
		{ua.StatusUncertainSensorNotAccurate, model.QualitySuspect},
		{ua.StatusBadSensorFailure, model.QualityBad},
		{ua.StatusBadNodeIDUnknown, model.QualityBad},
		{0xC0000000, model.QualityBad}, // reserved severity 11
	} {
		if got := Quality(tc.sc); got != tc.want {
			t.Errorf("Quality(%v) = %d, want %d", tc.sc, got, tc.want)
		}
	}
}

func TestValueConversions(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 7200))
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"double", 21.5, 21.5},
		{"float shortest decimal", float32(0.1), 0.1},
		{"int16", int16(-12), int16(-12)},
		{"uint64", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"bool", true, true},
		{"string", "x", "x"},
		{"datetime in UTC", ts, ts.UTC()},
		{"localized text", &ua.LocalizedText{Locale: "de", Text: "Kessel"}, "Kessel"},
		{"qualified name", &ua.QualifiedName{NamespaceIndex: 2, Name: "Boiler"}, "Boiler"},
		{"node id", ua.NewStringNodeID(2, "Plant.T"), "ns=2;s=Plant.T"},
		{"status code", ua.StatusBadSensorFailure, uint32(ua.StatusBadSensorFailure)},
		{"byte string", []byte{1, 2}, []byte{1, 2}},
		{"double array", []float64{1.5, nan, 3}, []any{1.5, nil, 3.0}},
		{"int32 array", []int32{1, -2}, []any{int32(1), int32(-2)}},
		{"matrix", [][]int16{{1, 2}, {3, 4}}, []any{[]any{int16(1), int16(2)}, []any{int16(3), int16(4)}}},
		{"text array", []*ua.LocalizedText{{Text: "a"}, {Text: "b"}}, []any{"a", "b"}},
		{"time array", []time.Time{ts}, []any{ts.UTC()}},
	} {
		if got := Value(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Value(%#v) = %#v, want %#v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestMeasurementOfKeepsSourceTimeAndLastValue(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := now.Add(-time.Second)
	srvTS := now.Add(-500 * time.Millisecond)
	for _, tc := range []struct {
		name string
		dv   *ua.DataValue
		want model.Measurement
	}{
		{"source timestamp", &ua.DataValue{Value: ua.MustVariant(1.5), SourceTimestamp: src, ServerTimestamp: srvTS},
			model.Measurement{Value: 1.5, Quality: model.QualityGood, Timestamp: src}},
		{"server timestamp without source", &ua.DataValue{Value: ua.MustVariant(1.5), ServerTimestamp: srvTS},
			model.Measurement{Value: 1.5, Quality: model.QualityGood, Timestamp: srvTS}},
		{"bad without value keeps the last", &ua.DataValue{Status: ua.StatusBadSensorFailure, SourceTimestamp: src},
			model.Measurement{Value: 7.0, Quality: model.QualityBad, Timestamp: src}},
		{"no data value", nil, model.Measurement{Value: 7.0, Quality: model.QualityBad, Timestamp: now}},
		{"uncertain keeps its value", &ua.DataValue{Value: ua.MustVariant(2.0), Status: ua.StatusUncertainLastUsableValue},
			model.Measurement{Value: 2.0, Quality: model.QualitySuspect, Timestamp: now}},
	} {
		if got := MeasurementOf(tc.dv, 7.0, now); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseNodeIDRefusesTypos(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"ns=2;s=Plant.T", true}, {"i=85", true}, {"ns=3;i=1001", true}, {"ns=1;g=5ce9dbce-5d79-434c-9ac3-1cfba9a6e92c", true},
		{"ns=1;b=YWJj", true},
		{"x=1", false}, {"Temperature", false}, {"", false}, {"ns=2;x=1", false}, {"ns=a;i=1", false}, {"ns=2", false},
	} {
		_, err := ParseNodeID(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseNodeID(%q): err %v, want ok %v", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadNode) {
			t.Errorf("ParseNodeID(%q): %v does not wrap ErrBadNode", tc.in, err)
		}
	}
}

func TestTrustVerify(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caDER, ca, caKey, err := NewCert(CertOptions{CommonName: "ca", IsCA: true})
	if err != nil {
		t.Fatal(err)
	}
	signed, _, _, _ := NewCert(CertOptions{CommonName: "plc", ApplicationURI: "urn:plc", Issuer: ca, IssuerKey: caKey})
	self, _, _, _ := NewCert(CertOptions{CommonName: "self", ApplicationURI: "urn:self"})
	expired, _, _, _ := NewCert(CertOptions{CommonName: "old", NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)})
	other, _, _, _ := NewCert(CertOptions{CommonName: "other"})
	caFile := file("ca.pem", PEMCert(caDER))
	selfFile := file("self.der", self)
	expiredFile := file("expired.pem", PEMCert(expired))
	for _, tc := range []struct {
		name string
		sec  Security
		cert []byte
		ok   bool
		msg  string
	}{
		{"trusted certificate (DER file)", Security{TrustedCerts: []string{selfFile}}, self, true, ""},
		{"signed by the CA", Security{CAFile: caFile}, signed, true, ""},
		{"self-signed, only a CA", Security{CAFile: caFile}, self, false, "caFile does not verify it"},
		{"not in the trusted list", Security{TrustedCerts: []string{selfFile}}, other, false, "not in trustedCerts"},
		{"trusted but expired", Security{TrustedCerts: []string{expiredFile}}, expired, false, "is valid from"},
		{"not a certificate", Security{TrustedCerts: []string{selfFile}}, []byte("garbage"), false, "not a certificate"},
		{"none sent", Security{TrustedCerts: []string{selfFile}}, nil, false, "no certificate"},
	} {
		tr, err := LoadTrust(&tc.sec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = tr.Verify(tc.cert)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if err != nil && (!errors.Is(err, ErrUntrustedServer) || !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("%s: err %v, want ErrUntrustedServer saying %q", tc.name, err, tc.msg)
		}
	}
	if _, err := LoadTrust(&Security{TrustedCerts: []string{file("junk.pem", []byte("-----BEGIN NOTHING-----\n"))}}); err == nil {
		t.Error("a PEM file without a certificate was loaded as trust")
	}
}

// A measurement seen twice in one notification (a queue of samples)
// starts a second update for its document: no sample is lost.
func TestBatcherSplitsRepeatedSamples(t *testing.T) {
	s := &Server{URL: "opc.tcp://x:4840", Documents: []Document{
		{Document: settings.Document{Layer: "p", Collection: "c", ID: "a"}, Measurements: []Measurement{{Name: "t", NodeID: "ns=2;s=T"}, {Name: "u", NodeID: "ns=2;s=U"}}},
		{Document: settings.Document{Layer: "p", Collection: "c", ID: "b"}, Measurements: []Measurement{{Name: "v", NodeID: "ns=2;s=V"}}},
	}}
	s.Defaults()
	var got []model.Update
	src, err := NewSource(s, func(_ context.Context, us []model.Update) error { got = append(got, us...); return nil }, slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dv := func(v float64, d time.Duration) *ua.DataValue {
		return &ua.DataValue{Value: ua.MustVariant(v), SourceTimestamp: t0.Add(d)}
	}
	b := newBatcher(src)
	b.add(0, dv(1, 0), t0)
	b.add(2, dv(9, 0), t0)
	b.add(1, dv(2, 0), t0)
	b.add(0, dv(3, time.Second), t0) // t again: a new update for document a
	us := b.updates()
	if len(us) != 3 {
		t.Fatalf("%d updates, want 3: %+v", len(us), us)
	}
	if us[0].ID != "a" || len(us[0].Set) != 3 || us[1].ID != "a" || us[2].ID != "b" {
		t.Errorf("updates %+v: want a{t,u}, a{t}, b{v}", us)
	}
	if m := us[1].Set["measurements.t"].(model.Measurement); m.Value != 3.0 || !us[1].TS.Equal(t0.Add(time.Second)) {
		t.Errorf("second sample %+v at %v", m, us[1].TS)
	}
	// a lost server: every measurement bad once, last values kept
	src.markBad(context.Background())
	if len(got) != 2 || got[0].Set["measurements.t"].(model.Measurement).Value != 3.0 ||
		got[0].Set["measurements.t"].(model.Measurement).Quality != model.QualityBad {
		t.Errorf("bad marks %+v: want 2 updates, t = 3 with bad quality", got)
	}
}
