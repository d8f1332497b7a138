package api

import (
	"os"
	"testing"

	"github.com/gridedge/gridedge/hub/store/mongo/mongotest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongotest.Stop()
	os.Exit(code)
}

// TestSeedOnMongo replays every request example of the seed (section 3.3.1
// and the OpenAPI annex) against the mongo backend too.
func TestSeedOnMongo(t *testing.T) {
	mongotest.URI(t) // skips (or fails under GRIDEDGE_REQUIRE_INTEROP=1) without a server
	backend = "mongo"
	defer func() { backend = "bolt" }()
	for _, tt := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Health", TestSeedHealth}, {"Login", TestSeedLogin}, {"Collections", TestSeedCollections},
		{"Bulk", TestSeedBulk}, {"Config", TestSeedConfig}, {"RangeAndNear", TestSeedRangeAndNear},
		{"Resources", TestSeedResources},
	} {
		t.Run(tt.name, tt.fn)
	}
}
