package agent

import (
	"strings"
	"testing"
)

func TestMergePartialSettings(t *testing.T) {
	running := `{"modbusMaps":{"A":[1],"B":[2.0]},"modbusSlaves":[{"map":"A"}],"period":10}`
	tests := []struct {
		name, patch, want, err string
	}{
		{"a map replaced, others kept", `{"modbusMaps":{"A":[3]}}`, `{"modbusMaps":{"A":[3],"B":[2.0]},"modbusSlaves":[{"map":"A"}],"period":10}`, ""},
		{"a map added", `{"modbusMaps":{"C":[4]}}`, `{"modbusMaps":{"A":[1],"B":[2.0],"C":[4]},"modbusSlaves":[{"map":"A"}],"period":10}`, ""},
		{"null removes a map", `{"modbusMaps":{"B":null}}`, `{"modbusMaps":{"A":[1]},"modbusSlaves":[{"map":"A"}],"period":10}`, ""},
		{"other sections replaced whole", `{"modbusSlaves":[{"map":"B"}],"period":1.5}`, `{"modbusMaps":{"A":[1],"B":[2.0]},"modbusSlaves":[{"map":"B"}],"period":1.5}`, ""},
		{"numbers keep their text", `{"period":1.10}`, `{"modbusMaps":{"A":[1],"B":[2.0]},"modbusSlaves":[{"map":"A"}],"period":1.10}`, ""},
		{"not an object", `[1]`, "", "must be a JSON object"},
		{"maps not an object", `{"modbusMaps":[1]}`, "", "modbusMaps must be an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := merge([]byte(running), []byte(tc.patch))
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %s, %v; want an error with %q", got, err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case string(got) != tc.want:
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"hub":{"url":"x","password":"p1"},"nats":{"user":"u","password":"p2"}}`, `{"hub":{"password":"*****","url":"x"},"nats":{"password":"*****","user":"u"}}`},
		{`{"mqtt":{"credentials":{"username":"a","password":"b"}}}`, `{"mqtt":{"credentials":{"password":"*****","username":"a"}}}`},
		{`{"list":[{"scrapeToken":"t"},{"clientSecret":"s"},{"seedFile":"f"}]}`, `{"list":[{"scrapeToken":"*****"},{"clientSecret":"*****"},{"seedFile":"*****"}]}`},
		{`{"password":""}`, `{"password":""}`}, // nothing to hide
		{`{"passwordFile":3,"n":1.50}`, `{"n":1.50,"passwordFile":3}`},
	}
	for _, tc := range tests {
		got, err := redact([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("redact(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	if _, err := redact([]byte(`{`)); err == nil {
		t.Error("redact of malformed JSON: want an error")
	}
}
