package api

import (
	"net/http"
)

// successJSON is success with data already encoded as JSON (a document as
// the store holds it, see store.GetJSON): the same bytes success writes
// for the decoded value, without decoding and encoding it.
func successJSON(w http.ResponseWriter, data []byte) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	b := make([]byte, 0, len(data)+len(`{"status":"success","data":}`)+1)
	b = append(b, `{"status":"success","data":`...)
	b = append(b, data...)
	b = append(b, "}\n"...)
	_, _ = w.Write(b)
	return nil
}
