package iot

import (
	"os"
	"strings"
	"testing"

	"github.com/gridedge/gridedge/shared/config"
)

// The example of docs/ingestion.md's "At the edge" section is a valid
// devices section.
func TestDocExampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../../docs/ingestion.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "```yaml\ndevices:\n")
	if i < 0 {
		t.Fatal("no devices example in docs/ingestion.md")
	}
	ex := doc[i+len("```yaml\ndevices:\n"):]
	ex = ex[:strings.Index(ex, "```")]
	var c Config
	if err := config.Decode([]byte(ex), &c); err != nil {
		t.Fatal(err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Groups) != 1 || len(c.Devices) != 1 || c.Devices[0].TokenHash == "" || !c.MQTT.Enabled {
		t.Errorf("example read as %+v", c)
	}
}
