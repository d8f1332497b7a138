package bolt

import (
	"path/filepath"
	"testing"

	"github.com/gridedge/gridedge/hub/store"
	"github.com/gridedge/gridedge/hub/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "hub.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
