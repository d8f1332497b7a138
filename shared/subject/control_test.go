package subject

import "testing"

func TestControlSubjects(t *testing.T) {
	tests := []struct{ got, want string }{
		{EdgeControl("xflex", "e1", ActionMapRollback), "xflex.edge.e1.map.rollback"},
		{EdgeControl("xflex", "e1", ActionMapGet), "xflex.edge.e1.map.get"},
		{FleetList("xflex"), "xflex.fleet.list"},
		{FleetStatus("xflex", "e1"), "xflex.fleet.status.e1"},
		{FleetStatusAll("xflex"), "xflex.fleet.status.*"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if len(EdgeControlActions) != 7 {
		t.Errorf("got %d control actions, want 7", len(EdgeControlActions))
	}
}
