package iotjson

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// chunked hides the body's length, so that only the read can find it too
// large.
type chunked struct{ io.Reader }

func TestReadHTTP(t *testing.T) {
	for _, tc := range []struct {
		name, query, body string
		hideLength        bool
		wantName          string
		want              Reading
	}{
		{name: "reading", query: "k=key&i=dev1", body: `{"t":1}`,
			want: Reading{APIKey: "key", Resource: ResourceJSON, DeviceID: "dev1", Token: "tok", Payload: []byte(`{"t":1}`)}},
		{name: "no i", query: "k=key", body: `{}`, wantName: NameMandatoryParams},
		{name: "no k nor i", query: "", body: `{}`, wantName: NameMandatoryParams},
		{name: "declared too large", query: "k=key&i=d", body: strings.Repeat("x", 17), wantName: NamePayloadTooLarge},
		{name: "read too large", query: "k=key&i=d", body: strings.Repeat("x", 17), hideLength: true, wantName: NamePayloadTooLarge},
		{name: "at the limit", query: "k=key&i=d", body: strings.Repeat("x", 16), hideLength: true,
			want: Reading{APIKey: "key", Resource: ResourceJSON, DeviceID: "d", Token: "tok", Payload: []byte(strings.Repeat("x", 16))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.hideLength {
				body = chunked{body}
			}
			r := httptest.NewRequest(http.MethodPost, ResourceJSON+"?"+tc.query, body)
			r.Header.Set(HeaderDeviceToken, "tok")
			got, err := ReadHTTP(httptest.NewRecorder(), r, 16, "devices.maxPayload")
			if tc.wantName != "" {
				var e *Error
				if !errors.As(err, &e) || e.Name != tc.wantName {
					t.Fatalf("err %v, want %s", err, tc.wantName)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.APIKey != tc.want.APIKey || got.Resource != tc.want.Resource || got.DeviceID != tc.want.DeviceID ||
				got.Token != tc.want.Token || string(got.Payload) != string(tc.want.Payload) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
