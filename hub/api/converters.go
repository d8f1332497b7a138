// The handler of POST /converters/{id}/test: a stored data-model converter
// (hub/convert, seed 3.2.3) applied to a sample document.

package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gridedge/gridedge/hub/auth"
	"github.com/gridedge/gridedge/hub/convert"
)

// Converters runs stored converters; *convert.Registry is one. The route
// answers 404 when Server.Converters is nil (services.converters off).
type Converters interface {
	// Test applies transformation id to doc.
	Test(ctx context.Context, id string, doc map[string]any) (any, error)
	// Layer is the layer holding the transformations; a write grant on it
	// allows testing them.
	Layer() string
}

var _ Converters = (*convert.Registry)(nil)

// ConvertersLayer is the default layer of the transformations. It is not
// reserved although /converters/{id}/test is a route: that route is
// inside the layer's own namespace (/{layer}/{collection}/{id} has no
// POST), so the layer's collections are served as usual.
const ConvertersLayer = convert.DefaultLayer

func (s *Server) testConverter(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if s.Converters == nil {
		return httpErrorf(http.StatusNotFound, "the converter service is not enabled on this hub (services.converters.enabled)")
	}
	if err := s.checkLayer(p, s.Converters.Layer(), auth.Write); err != nil {
		return err
	}
	var doc map[string]any
	if err := readJSON(r, &doc); err != nil {
		return err
	}
	if doc == nil {
		return httpErrorf(http.StatusBadRequest, "the body must be the sample document, a JSON object")
	}
	id := r.PathValue("id")
	out, err := s.Converters.Test(r.Context(), id, doc)
	switch {
	case errors.Is(err, convert.ErrNotFound):
		return httpErrorf(http.StatusNotFound, "%v", err)
	case err != nil:
		// the conversion failed: the answer is why, precisely
		return httpErrorf(http.StatusUnprocessableEntity, "%v", err)
	}
	return success(w, "", out)
}
