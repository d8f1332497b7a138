package subject

import "testing"

func TestSubjects(t *testing.T) {
	tests := []struct{ got, want string }{
		{Ingest("xflex", "e1"), "xflex.ingest.e1"},
		{IngestAll("xflex"), "xflex.ingest.*"},
		{EdgeControl("xflex", "e1", ActionMapPush), "xflex.edge.e1.map.push"},
		{EdgeAll("xflex", "e1"), "xflex.edge.e1.>"},
		{Heartbeat("xflex", "e1"), "xflex.edge.e1.heartbeat"},
		{HeartbeatAll("xflex"), "xflex.edge.*.heartbeat"},
		{Live("xflex", "e1", "gridflex", "generators", "TSO"), "xflex.live.e1.gridflex.generators.TSO"},
		{StorageChanged("xflex", "gridflex", "generators"), "xflex.storage.changed.gridflex.generators"},
		{Converters("xflex", "apply"), "xflex.converters.apply"},
		{VSensors("xflex", "stats"), "xflex.vsensors.stats"},
		{Incidents("xflex", "retry"), "xflex.incidents.retry"},
		{Alerts("xflex", "test"), "xflex.alerts.test"},
		{Weather("xflex", "forecast"), "xflex.weather.forecast"},
		{StorageHistory("xflex"), "xflex.storage.history"},
		{DeadLetter("xflex", "ingest"), "xflex.deadletter.ingest"},
		{EdgeInbox("e1"), "_INBOX_e1"},
		{Token("xflex.ingest.e1", 2), "e1"},
		{Token("xflex", 3), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestCheckToken(t *testing.T) {
	for _, ok := range []string{"edge1", "sub-station_7", "Ä"} {
		if err := CheckToken("edge id", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", "a\tb"} {
		if err := CheckToken("edge id", bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestForecastSubjects(t *testing.T) {
	tests := []struct{ got, want string }{
		{ForecastCreate("xflex"), "xflex.forecast.model.create"},
		{ForecastModel("xflex", "f98", ForecastTrain), "xflex.forecast.model.f98.train"},
		{ForecastModel("xflex", "f98", ForecastTrainingCompleted), "xflex.forecast.model.f98.trainingcompleted"},
		{ForecastModelAll("xflex", ForecastGet), "xflex.forecast.model.*.get"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
