package forecast

import (
	"fmt"
	"io"
	"mime/multipart"
	"slices"
)

// writeMultipart writes fields as a multipart form (Python requests'
// files=…, used by the seed's InfluxDB example) and returns its content type.
func writeMultipart(w io.Writer, fields map[string]string) (string, error) {
	mw := multipart.NewWriter(w)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := mw.WriteField(k, fields[k]); err != nil {
			return "", fmt.Errorf("write form field %q: %w", k, err)
		}
	}
	if err := mw.Close(); err != nil {
		return "", fmt.Errorf("close form: %w", err)
	}
	return mw.FormDataContentType(), nil
}
