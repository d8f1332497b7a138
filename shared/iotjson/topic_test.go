package iotjson

import (
	"strings"
	"testing"
)

func TestParseTopic(t *testing.T) {
	for _, tc := range []struct {
		topic string
		want  Topic
		ok    bool
	}{
		{"k/d/attrs", Topic{APIKey: "k", Device: "d", Kind: "attrs"}, true},
		{"/k/d/attrs", Topic{APIKey: "k", Device: "d", Kind: "attrs"}, true},
		{"k/d/attrs/t", Topic{APIKey: "k", Device: "d", Kind: "attrs", Attr: "t"}, true},
		{"k/d/tok/attrs/t", Topic{APIKey: "k", Device: "d", Token: "tok", Kind: "attrs", Attr: "t"}, true},
		{"/k/d/tok/cmdexe", Topic{APIKey: "k", Device: "d", Token: "tok", Kind: "cmdexe"}, true},
		{"k/d/cmd", Topic{}, false},
		{"k//attrs", Topic{}, false},
		{"k/d/attrs/", Topic{}, false},
		{"k/d/tok/attrs/t/x", Topic{}, false},
	} {
		got, ok := ParseTopic(tc.topic)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v, %v", tc.topic, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseTopic: any topic parses or is refused without panicking, and a
// parsed topic names an apikey, a device and a kind.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"k/d/attrs", "/k/d/attrs/t", "k/d/tok/cmdexe", "k/d/cmd", "//attrs", "k/d/attrs/", "a/b/c/d/e/f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		p, ok := ParseTopic(topic)
		if !ok {
			return
		}
		if p.APIKey == "" || p.Device == "" || (p.Kind != "attrs" && p.Kind != "cmdexe") || (p.Attr != "" && p.Kind != "attrs") {
			t.Fatalf("ParseTopic(%q) = %+v", topic, p)
		}
		if strings.Contains(p.APIKey+p.Device+p.Token+p.Attr, "/") {
			t.Fatalf("ParseTopic(%q) kept a '/': %+v", topic, p)
		}
	})
}
