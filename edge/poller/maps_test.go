package poller_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/poller"
	"github.com/gridedge/gridedge/edge/settings"
)

// mapsDir is the device library (modbus-maps/ at the repository root).
const mapsDir = "../../modbus-maps"

// deviceMap is one map of the device library.
type deviceMap struct {
	// File is the file name in mapsDir.
	File string
	// Name is the map's name (its only key under modbusMaps).
	Name string
	// Vars are the map's variables.
	Vars []settings.Variable
	// Plan are the options a slave of this device should use (see the
	// "maxRegisters" column of modbus-maps/README.md).
	Plan poller.PlanOptions
}

// deviceMaxRegisters holds the per-request limits the manufacturers
// document (modbus-maps/README.md); the others take the protocol's 125.
var deviceMaxRegisters = map[string]int{
	"SDM630": 80, // Eastron: at most 40 parameters (80 registers) per request
	"EM24":   11, // Carlo Gavazzi EM24-DIN PFA/PFB/X: at most 11 registers per read
}

// loadDeviceMaps loads every map of the library the way the agent would:
// each file wrapped into a SETTINGS document with one slave using the map,
// through settings.Load (strict decoding and validation).
func loadDeviceMaps(tb testing.TB) []deviceMap {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(mapsDir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no maps in %s (err %v)", mapsDir, err)
	}
	var out []deviceMap
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var frag struct {
			ModbusMaps map[string]json.RawMessage `json:"modbusMaps"`
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&frag); err != nil {
			tb.Fatalf("%s: not a SETTINGS fragment {\"modbusMaps\": …}: %v", f, err)
		}
		if len(frag.ModbusMaps) != 1 {
			tb.Fatalf("%s: want exactly one map, got %d", f, len(frag.ModbusMaps))
		}
		for name, raw := range frag.ModbusMaps {
			maxRegs := deviceMaxRegisters[name]
			doc := fmt.Sprintf(`{"modbusMaps": {%q: %s}, "modbusSlaves": [{"ip": "127.0.0.1", "slaveId": 1, "map": %q, "maxRegisters": %d}]}`,
				name, raw, name, maxRegs)
			s, err := settings.Load([]byte(doc))
			if err != nil {
				tb.Fatalf("%s: settings.Load: %v", f, err)
			}
			// The file alone is a loadable SETTINGS fragment too.
			if _, err := settings.Load(data); err != nil {
				tb.Fatalf("%s: settings.Load of the file as it is: %v", f, err)
			}
			out = append(out, deviceMap{
				File: filepath.Base(f), Name: name, Vars: s.ModbusMaps[name],
				Plan: poller.PlanOptionsFor(&s.ModbusSlaves[0]),
			})
		}
	}
	return out
}

// golden is a register image of a device at a known operating point and
// the engineering values it must decode to (testdata/maps/<device>.json).
type golden struct {
	Comment   string `json:"_comment"`
	Map       string `json:"map"`
	Name      string `json:"name"`
	Registers []struct {
		Table   string   `json:"table"`
		Address uint16   `json:"address"`
		Values  []uint16 `json:"values"`
	} `json:"registers"`
	Want map[string]any `json:"want"`
}

// image is a register image: table → address → value; absent registers read 0.
type image map[string]map[uint16]uint16

func (g *golden) image() image {
	img := image{}
	for _, b := range g.Registers {
		if img[b.Table] == nil {
			img[b.Table] = map[uint16]uint16{}
		}
		for i, v := range b.Values {
			img[b.Table][b.Address+uint16(i)] = v
		}
	}
	return img
}

// read returns the registers a request reads from the image.
func (img image) read(r poller.Request) []uint16 {
	regs := make([]uint16, r.Count)
	for i := range regs {
		regs[i] = img[r.Table][r.Start+uint16(i)]
	}
	return regs
}

func loadGolden(tb testing.TB, file string) *golden {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "maps", file))
	if err != nil {
		tb.Fatal(err)
	}
	var g golden
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		tb.Fatalf("testdata/maps/%s: %v", file, err)
	}
	return &g
}

// decodeImage plans vars, reads every request from img and decodes every
// variable, as the poller does for one cycle. It fails when a variable is
// not read by exactly one request or does not lie within it.
func decodeImage(tb testing.TB, vars []settings.Variable, opts poller.PlanOptions, img image) map[string]any {
	tb.Helper()
	plan := poller.Plan(vars, opts)
	got := map[string]any{}
	seen := make([]int, len(vars))
	maxRegs := opts.MaxRegisters
	if maxRegs == 0 {
		maxRegs = poller.MaxReadRegisters
	}
	for _, r := range plan {
		if int(r.Count) > maxRegs {
			tb.Errorf("request %s reads more than maxRegisters %d", r, maxRegs)
		}
		regs := img.read(r)
		for _, i := range r.Vars {
			v := &vars[i]
			seen[i]++
			raw := poller.Extract(r, v, regs)
			if raw == nil {
				tb.Errorf("%s: not within request %s", v.Name, r)
				continue
			}
			val, err := codec.Decode(v, "", raw)
			if err != nil {
				tb.Errorf("%s: %v", v.Name, err)
				continue
			}
			got[v.Name] = val
		}
	}
	for i, n := range seen {
		if vars[i].Datatype != settings.DatatypeIgnore && n != 1 {
			tb.Errorf("%s is read by %d requests of the plan, want 1", vars[i].Name, n)
		}
	}
	return got
}

// goldenEqual compares a decoded value with a golden one: numbers within
// 1e-9 relative (JSON numbers are float64, so are decoded numbers), others exactly.
func goldenEqual(got, want any) bool {
	g, gok := got.(float64)
	w, wok := want.(float64)
	if gok && wok {
		return g == w || math.Abs(g-w) <= 1e-9*math.Abs(w)
	}
	return reflect.DeepEqual(got, want)
}

func TestDeviceMapsLoadAndValidate(t *testing.T) {
	maps := loadDeviceMaps(t)
	if len(maps) < 5 {
		t.Errorf("the library has %d maps, want at least 5", len(maps))
	}
	readme, err := os.ReadFile(filepath.Join(mapsDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, m := range maps {
		if prev, dup := names[m.Name]; dup {
			t.Errorf("map name %s is defined by both %s and %s", m.Name, prev, m.File)
		}
		names[m.Name] = m.File
		if !strings.Contains(string(readme), "`"+m.File+"`") {
			t.Errorf("modbus-maps/README.md does not list %s", m.File)
		}
		if _, err := os.Stat(filepath.Join("testdata", "maps", m.File)); err != nil {
			t.Errorf("%s has no golden register image: %v", m.File, err)
		}
	}
}

func TestDeviceMapsDecodeGoldenImages(t *testing.T) {
	for _, m := range loadDeviceMaps(t) {
		t.Run(m.Name, func(t *testing.T) {
			g := loadGolden(t, m.File)
			if g.Map != m.File || g.Name != m.Name {
				t.Fatalf("golden names map %s/%s, want %s/%s", g.Map, g.Name, m.File, m.Name)
			}
			got := decodeImage(t, m.Vars, m.Plan, g.image())
			for _, v := range m.Vars {
				if v.Datatype == settings.DatatypeIgnore {
					continue
				}
				want, ok := g.Want[v.Name]
				if !ok {
					t.Errorf("%s: no golden value", v.Name)
					continue
				}
				if !goldenEqual(got[v.Name], want) {
					t.Errorf("%s = %#v, want %#v", v.Name, got[v.Name], want)
				}
			}
			for name := range g.Want {
				if !slices.ContainsFunc(m.Vars, func(v settings.Variable) bool { return v.Name == name }) {
					t.Errorf("golden value for %s, which the map does not define", name)
				}
			}
		})
	}
}

// TestSunSpecScaleFactors checks that the integer+scale-factor map yields
// the operating point once each value is multiplied by 10^SF, which is
// what a virtual sensor over the raw value and its SF register computes.
func TestSunSpecScaleFactors(t *testing.T) {
	var m *deviceMap
	maps := loadDeviceMaps(t)
	for i := range maps {
		if maps[i].Name == "SUNSPEC_103" {
			m = &maps[i]
		}
	}
	if m == nil {
		t.Fatal("no SUNSPEC_103 map")
	}
	got := decodeImage(t, m.Vars, m.Plan, loadGolden(t, m.File).image())
	scaled := func(point, sf string) float64 {
		return got[point].(float64) * math.Pow(10, got[sf].(float64))
	}
	for _, c := range []struct {
		point, sf string
		want      float64
	}{
		{"A", "A_SF", 15.10}, {"AphA", "A_SF", 5.02}, {"PhVphA", "V_SF", 230.1},
		{"PPVphAB", "V_SF", 398.6}, {"W", "W_SF", 3471}, {"Hz", "Hz_SF", 50.00},
		{"VA", "VA_SF", 3475}, {"VAr", "VAr_SF", 49.2}, {"PF", "PF_SF", 99.9},
		{"WH", "WH_SF", 12345600}, {"DCV", "DCV_SF", 361.2}, {"TmpCab", "Tmp_SF", 41.2},
	} {
		if s := scaled(c.point, c.sf); math.Abs(s-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s × 10^%s = %v, want %v", c.point, c.sf, s, c.want)
		}
	}
	if got["SID"] != float64(0x53756E53) || got["ID"] != 103.0 || got["L"] != 50.0 || got["C_L"] != 65.0 {
		t.Errorf("SunSpec markers SID=%v ID=%v L=%v C_L=%v, want SunS, 103, 50, 65", got["SID"], got["ID"], got["L"], got["C_L"])
	}
}
