package poller

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/gridedge/gridedge/edge/codec"
	"github.com/gridedge/gridedge/edge/settings"
)

// at returns a variable of table and datatype at address addr ("12" or "12.3").
func at(table, dt, addr string) settings.Variable {
	v := settings.Variable{Name: table + dt + addr, Type: table, Datatype: dt}
	if err := json.Unmarshal([]byte(`"`+addr+`"`), &v.Address); err != nil {
		panic(err)
	}
	return v
}

func hr(dt, addr string) settings.Variable { return at(settings.TypeHolding, dt, addr) }

func sized(v settings.Variable, n int) settings.Variable { v.Datasize = n; return v }

// req builds an expected request.
func req(table string, start, count uint16, vars ...int) Request {
	return Request{Table: table, Start: start, Count: count, Vars: vars}
}

func TestPlan(t *testing.T) {
	const H, I, C, D = settings.TypeHolding, settings.TypeInput, settings.TypeCoil, settings.TypeDiscrete
	coils := func(n int) []settings.Variable {
		out := make([]settings.Variable, n)
		for i := range out {
			out[i] = at(C, "bool", fmt.Sprint(i))
		}
		return out
	}
	seq := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	tests := []struct {
		name string
		vars []settings.Variable
		opts PlanOptions
		want []Request
	}{
		{"empty", nil, PlanOptions{}, nil},
		{"adjacent", []settings.Variable{hr("16uint", "0"), hr("32float", "1"), hr("16int", "3")}, PlanOptions{},
			[]Request{req(H, 0, 4, 0, 1, 2)}},
		{"gap 8 joins", []settings.Variable{hr("16uint", "0"), hr("16uint", "9")}, PlanOptions{},
			[]Request{req(H, 0, 10, 0, 1)}},
		{"gap 9 splits", []settings.Variable{hr("16uint", "0"), hr("16uint", "10")}, PlanOptions{},
			[]Request{req(H, 0, 1, 0), req(H, 10, 1, 1)}},
		{"gap after a long variable", []settings.Variable{hr("64float", "0"), hr("16uint", "12")}, PlanOptions{},
			[]Request{req(H, 0, 13, 0, 1)}},
		{"custom gap", []settings.Variable{hr("16uint", "0"), hr("16uint", "3"), hr("16uint", "7")}, PlanOptions{MaxGap: 2},
			[]Request{req(H, 0, 4, 0, 1), req(H, 7, 1, 2)}},
		{"NoGap joins adjacent only", []settings.Variable{hr("16uint", "0"), hr("16uint", "1"), hr("16uint", "3")}, PlanOptions{MaxGap: NoGap},
			[]Request{req(H, 0, 2, 0, 1), req(H, 3, 1, 2)}},
		{"span 125 exactly", []settings.Variable{hr("16uint", "0"), hr("16uint", "124")}, PlanOptions{MaxGap: 124},
			[]Request{req(H, 0, 125, 0, 1)}},
		{"span 126 splits", []settings.Variable{hr("16uint", "0"), hr("16uint", "125")}, PlanOptions{MaxGap: 124},
			[]Request{req(H, 0, 1, 0), req(H, 125, 1, 1)}},
		{"32-bit ending at 125", []settings.Variable{sized(hr("string", "0"), 123), hr("32uint", "123")}, PlanOptions{},
			[]Request{req(H, 0, 125, 0, 1)}},
		{"32-bit crossing 125", []settings.Variable{sized(hr("string", "0"), 124), hr("32uint", "124")}, PlanOptions{},
			[]Request{req(H, 0, 124, 0), req(H, 124, 2, 1)}},
		{"125-register string alone", []settings.Variable{hr("16uint", "0"), sized(hr("string", "1"), 125)}, PlanOptions{},
			[]Request{req(H, 0, 1, 0), req(H, 1, 125, 1)}},
		{"MaxRegisters above protocol is 125", []settings.Variable{hr("16uint", "0"), hr("16uint", "125")}, PlanOptions{MaxRegisters: 500, MaxGap: 124},
			[]Request{req(H, 0, 1, 0), req(H, 125, 1, 1)}},
		{"slave maxRegisters", []settings.Variable{hr("16uint", "0"), hr("32uint", "8"), hr("16uint", "10")}, PlanOptions{MaxRegisters: 10},
			[]Request{req(H, 0, 10, 0, 1), req(H, 10, 1, 2)}},
		{"variable longer than the limit alone", []settings.Variable{hr("16uint", "0"), sized(hr("string", "1"), 10), hr("16uint", "11")}, PlanOptions{MaxRegisters: 4},
			[]Request{req(H, 0, 1, 0), req(H, 1, 10, 1), req(H, 11, 1, 2)}},
		{"mixed tables by function code", []settings.Variable{
			at(I, "16uint", "0"), at(H, "16uint", "0"), at(D, "bool", "0"), at(C, "bool", "0"), at(H, "16uint", "1"), at(C, "bool", "1"),
		}, PlanOptions{}, []Request{req(C, 0, 2, 3, 5), req(D, 0, 1, 2), req(H, 0, 2, 1, 4), req(I, 0, 1, 0)}},
		{"bit variables share a register", []settings.Variable{
			hr("bool", "12.3"), hr("bool", "12.0"), hr("16uint", "12"), hr("8uint", "13"), hr("8int", "13"), hr("bool", "13.15"),
		}, PlanOptions{}, []Request{req(H, 12, 2, 0, 1, 2, 3, 4, 5)}},
		{"overlapping variables", []settings.Variable{hr("64uint", "0"), hr("16uint", "2"), hr("32float", "3")}, PlanOptions{},
			[]Request{req(H, 0, 5, 0, 1, 2)}},
		{"unsorted input", []settings.Variable{hr("16uint", "30"), hr("16uint", "2"), hr("16uint", "31"), hr("16uint", "1")}, PlanOptions{},
			[]Request{req(H, 1, 2, 3, 1), req(H, 30, 2, 0, 2)}},
		{"ignore bridges a gap", []settings.Variable{hr("16uint", "0"), sized(hr("ignore", "1"), 20), hr("16uint", "21")}, PlanOptions{},
			[]Request{req(H, 0, 22, 0, 2)}},
		{"ignore with small holes either side", []settings.Variable{hr("16uint", "0"), sized(hr("ignore", "5"), 20), hr("16uint", "30")}, PlanOptions{},
			[]Request{req(H, 0, 31, 0, 2)}},
		{"ignore after a big hole does not bridge", []settings.Variable{hr("16uint", "0"), sized(hr("ignore", "20"), 5), hr("16uint", "25")}, PlanOptions{},
			[]Request{req(H, 0, 1, 0), req(H, 25, 1, 2)}},
		{"ignore is not read", []settings.Variable{sized(hr("ignore", "0"), 4), hr("16uint", "4"), sized(hr("ignore", "5"), 4)}, PlanOptions{},
			[]Request{req(H, 4, 1, 1)}},
		{"ignore alone", []settings.Variable{sized(hr("ignore", "0"), 4)}, PlanOptions{}, nil},
		{"ignore does not stretch the limit", []settings.Variable{hr("16uint", "0"), sized(hr("ignore", "1"), 125), hr("16uint", "126")}, PlanOptions{},
			[]Request{req(H, 0, 1, 0), req(H, 126, 1, 2)}},
		{"2000 coils", coils(2000), PlanOptions{}, []Request{req(C, 0, 2000, seq(2000)...)}},
		{"2001 coils", coils(2001), PlanOptions{}, []Request{req(C, 0, 2000, seq(2000)...), req(C, 2000, 1, 2000)}},
		{"coil bits over the limit", []settings.Variable{at(C, "bool", "0"), sized(at(C, "bits", "1950"), 51)}, PlanOptions{MaxGap: 2000},
			[]Request{req(C, 0, 1, 0), req(C, 1950, 51, 1)}},
		{"coil gap counted in bits", []settings.Variable{at(C, "bool", "0"), at(D, "bool", "0"), at(C, "bool", "9"), at(D, "bool", "10")}, PlanOptions{},
			[]Request{req(C, 0, 10, 0, 2), req(D, 0, 1, 1), req(D, 10, 1, 3)}},
		{"MaxBits", []settings.Variable{sized(at(C, "bits", "0"), 16), sized(at(C, "bits", "16"), 16)}, PlanOptions{MaxBits: 16},
			[]Request{req(C, 0, 16, 0), req(C, 16, 16, 1)}},
		{"split keys", []settings.Variable{hr("16uint", "0"), hr("16uint", "1"), hr("16uint", "2"), hr("16uint", "3")},
			PlanOptions{Split: map[SplitKey]bool{{H, 2}: true, {I, 1}: true}},
			[]Request{req(H, 0, 2, 0, 1), req(H, 2, 2, 2, 3)}},
		{"split key at a shared register", []settings.Variable{hr("16uint", "0"), hr("bool", "1.0"), hr("bool", "1.1")},
			PlanOptions{Split: map[SplitKey]bool{{H, 1}: true}},
			[]Request{req(H, 0, 1, 0), req(H, 1, 1, 1, 2)}},
		{"unknown table left out", []settings.Variable{at("register", "16uint", "0"), hr("16uint", "0")}, PlanOptions{},
			[]Request{req(H, 0, 1, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.vars, tt.opts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan =\n  %v\nwant\n  %v", got, tt.want)
			}
			for _, r := range got {
				checkRequest(t, r, tt.vars)
			}
		})
	}
}

// checkRequest checks that every variable of r lies within it and that
// the variables are in address order.
func checkRequest(t *testing.T, r Request, vars []settings.Variable) {
	t.Helper()
	prev := -1
	for _, i := range r.Vars {
		v := &vars[i]
		if v.Type != r.Table || int(v.Address.Register) < int(r.Start) || int(v.Address.Register)+codec.SpanOf(v) > int(r.Start)+int(r.Count) {
			t.Errorf("%v: variable %d (%s at %v, %d) outside the request", r, i, v.Type, v.Address, codec.SpanOf(v))
		}
		if int(v.Address.Register) < prev {
			t.Errorf("%v: variables not in address order", r)
		}
		prev = int(v.Address.Register)
	}
}

// TestPlanPanasonic: the seed's example map (temperature, luminance, mode at
// holding registers 1, 2, 3) is read with one request of 3 registers at 1.
func TestPlanPanasonic(t *testing.T) {
	var m map[string][]settings.Variable
	err := json.Unmarshal([]byte(`{"PANASONIC": [
		{"name": "temperature", "type": "holding", "address": 1, "datatype": "16uint", "factor": 1},
		{"name": "luminance", "type": "holding", "address": 2, "datatype": "16int", "factor": 10},
		{"name": "mode", "type": "holding", "address": 3, "datatype": "16int", "translation": [[1, "COLD"], [2, "HEAT"], [3, "FAN"]]}
	]}`), &m)
	if err != nil {
		t.Fatal(err)
	}
	got := Plan(m["PANASONIC"], PlanOptions{})
	want := []Request{{Table: settings.TypeHolding, Start: 1, Count: 3, Vars: []int{0, 1, 2}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Plan(PANASONIC) = %v, want %v", got, want)
	}
}

// TestPlanDeterministic: shuffling the variables changes only the indexes.
func TestPlanDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tables := []string{settings.TypeHolding, settings.TypeInput, settings.TypeCoil, settings.TypeDiscrete}
	dts := []string{"16uint", "32float", "64int", "bool", "8uint"}
	var vars []settings.Variable
	for i := range 300 {
		v := at(tables[r.IntN(4)], dts[r.IntN(len(dts))], fmt.Sprint(r.IntN(3000)))
		v.Name = fmt.Sprint("v", i)
		vars = append(vars, v)
	}
	spans := func(vars []settings.Variable) []string {
		var out []string
		for _, rq := range Plan(vars, PlanOptions{}) {
			s := rq.String() + ":"
			for _, i := range rq.Vars {
				s += " " + vars[i].Name
			}
			out = append(out, s)
		}
		return out
	}
	want := spans(vars)
	if !reflect.DeepEqual(spans(vars), want) {
		t.Fatal("Plan is not deterministic")
	}
	// Variables at distinct addresses: any order of the input gives the same plan.
	seen := map[string]bool{}
	var distinct []settings.Variable
	for _, v := range vars {
		k := v.Type + v.Address.String()
		if !seen[k] {
			seen[k] = true
			distinct = append(distinct, v)
		}
	}
	want = spans(distinct)
	for range 5 {
		r.Shuffle(len(distinct), func(i, j int) { distinct[i], distinct[j] = distinct[j], distinct[i] })
		if got := spans(distinct); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled input: got\n%v\nwant\n%v", got, want)
		}
	}
}

func TestSplitRequest(t *testing.T) {
	const H = settings.TypeHolding
	vars := []settings.Variable{hr("16uint", "0"), hr("32uint", "1"), hr("16uint", "5"), hr("bool", "6.1"), hr("bool", "6.2"), hr("16uint", "7")}
	tests := []struct {
		name string
		r    Request
		a, b Request
		ok   bool
	}{
		{"middle", req(H, 0, 8, 0, 1, 2, 3, 4, 5), req(H, 0, 6, 0, 1, 2), req(H, 6, 2, 3, 4, 5), true},
		{"shared register kept together", req(H, 5, 2, 2, 3, 4), req(H, 5, 1, 2), req(H, 6, 1, 3, 4), true},
		{"two", req(H, 0, 3, 0, 1), req(H, 0, 1, 0), req(H, 1, 2, 1), true},
		{"one variable", req(H, 0, 1, 0), Request{}, Request{}, false},
		{"one register", req(H, 6, 1, 3, 4), Request{}, Request{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, ok := SplitRequest(tt.r, vars)
			if ok != tt.ok || !reflect.DeepEqual(a, tt.a) || !reflect.DeepEqual(b, tt.b) {
				t.Errorf("SplitRequest(%v) = %v, %v, %v; want %v, %v, %v", tt.r, a, b, ok, tt.a, tt.b, tt.ok)
			}
		})
	}
	// The halves do not share the Vars array of the request.
	r := req(H, 0, 8, 0, 1, 2, 3, 4, 5)
	a, _, _ := SplitRequest(r, vars)
	a.Vars[0] = 99
	if r.Vars[0] != 0 {
		t.Error("SplitRequest halves alias the request's Vars")
	}
}

// TestBisect plays the poller's part: a device refuses any read touching
// register 13 (mapped, but not implemented). Bisecting with SplitRequest
// finds the variable, and recording the keys makes Plan reproduce the
// working requests.
func TestBisect(t *testing.T) {
	var vars []settings.Variable
	for i := range 20 {
		vars = append(vars, hr("16uint", fmt.Sprint(i)))
	}
	vars = append(vars, hr("16uint", "40"))
	refused := func(r Request) bool { return r.Start <= 13 && 13 < r.Start+r.Count }

	split := map[SplitKey]bool{}
	var good []Request
	var bad []int
	queue := Plan(vars, PlanOptions{})
	rounds := 0
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		rounds++
		if !refused(r) {
			good = append(good, r)
			continue
		}
		a, b, ok := SplitRequest(r, vars)
		if !ok {
			bad = append(bad, r.Vars...)
			continue
		}
		split[b.Key()] = true
		queue = append(queue, a, b)
	}
	if !slices.Equal(bad, []int{13}) {
		t.Fatalf("refused variables = %v, want [13]", bad)
	}
	if rounds > 12 {
		t.Errorf("%d reads to find the refused variable, want at most 12", rounds)
	}
	replan := Plan(vars, PlanOptions{Split: split})
	for _, r := range replan {
		if refused(r) && !slices.Equal(r.Vars, []int{13}) {
			t.Errorf("replanned request %v is refused and holds more than the bad variable", r)
		}
	}
	slices.SortFunc(good, func(a, b Request) int { return int(a.Start) - int(b.Start) })
	var replanGood []Request
	for _, r := range replan {
		if !refused(r) {
			replanGood = append(replanGood, r)
		}
	}
	if !reflect.DeepEqual(replanGood, good) {
		t.Errorf("replan = %v\nwant the bisected requests %v", replanGood, good)
	}
}

func TestExtract(t *testing.T) {
	const H = settings.TypeHolding
	r := req(H, 10, 6)
	regs := []uint16{10, 11, 12, 13, 14, 15}
	tests := []struct {
		v    settings.Variable
		want []uint16
	}{
		{hr("16uint", "10"), []uint16{10}},
		{hr("32float", "12"), []uint16{12, 13}},
		{hr("64uint", "12"), []uint16{12, 13, 14, 15}},
		{hr("bool", "15.7"), []uint16{15}},
		{hr("32bcd", "15.0"), []uint16{15}},
		{sized(hr("string", "11"), 3), []uint16{11, 12, 13}},
		{hr("64uint", "13"), nil},                     // runs past the request
		{hr("16uint", "9"), nil},                      // before it
		{at(settings.TypeInput, "16uint", "10"), nil}, // another table
		{sized(hr("string", "10"), 7), nil},           // longer than the request
		{hr("16uint", "16"), nil},                     // just after it
	}
	for _, tt := range tests {
		if got := Extract(r, &tt.v, regs); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("Extract(%s %s at %v) = %v, want %v", tt.v.Type, tt.v.Datatype, tt.v.Address, got, tt.want)
		}
	}
	// Short read: the device returned fewer registers than asked.
	if got := Extract(r, &tests[2].v, regs[:5]); got != nil {
		t.Errorf("Extract from a short read = %v, want nil", got)
	}

	cr := req(settings.TypeCoil, 100, 5)
	bits := []bool{true, false, true, true, false}
	bv := sized(at(settings.TypeCoil, "bits", "102"), 3)
	if got := ExtractBits(cr, &bv, bits); !slices.Equal(got, []bool{true, true, false}) {
		t.Errorf("ExtractBits = %v", got)
	}
	cv := at(settings.TypeCoil, "bool", "104")
	if got := ExtractBits(cr, &cv, bits); !slices.Equal(got, []bool{false}) {
		t.Errorf("ExtractBits = %v", got)
	}
	bv.Datasize = 4
	if got := ExtractBits(cr, &bv, bits); got != nil {
		t.Errorf("ExtractBits past the end = %v, want nil", got)
	}
}

func TestPlanOptionsFor(t *testing.T) {
	zero, four := 0, 4
	tests := []struct {
		sl   settings.Slave
		want PlanOptions
	}{
		{settings.Slave{}, PlanOptions{}},
		{settings.Slave{MaxRegisters: 60, MaxGap: &four}, PlanOptions{MaxRegisters: 60, MaxGap: 4}},
		{settings.Slave{MaxGap: &zero}, PlanOptions{MaxGap: NoGap}},
	}
	for _, tt := range tests {
		if got := PlanOptionsFor(&tt.sl); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("PlanOptionsFor(%+v) = %+v, want %+v", tt.sl, got, tt.want)
		}
	}
}

func TestRequestKeyString(t *testing.T) {
	r := req(settings.TypeHolding, 1, 3)
	if got := r.String(); got != "holding 1+3" {
		t.Errorf("String = %q", got)
	}
	if got := r.Key(); got != (SplitKey{settings.TypeHolding, 1}) {
		t.Errorf("Key = %v", got)
	}
}

func BenchmarkPlan(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	var vars []settings.Variable
	for range 500 {
		vars = append(vars, hr([]string{"16uint", "32float", "64float"}[r.IntN(3)], fmt.Sprint(r.IntN(4000))))
	}
	b.ReportAllocs()
	for b.Loop() {
		Plan(vars, PlanOptions{})
	}
}
