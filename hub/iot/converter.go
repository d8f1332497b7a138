package iot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gridedge/gridedge/hub/convert"
	"github.com/gridedge/gridedge/shared/config"
	"github.com/gridedge/gridedge/shared/iotjson"
)

// Converter applies a data-model converter (seed 3.2.3, hub/convert) by
// id; *convert.Registry is one.
type Converter interface {
	Apply(ctx context.Context, id string, doc map[string]any) (any, error)
}

// converterFor is the converter id Config.Converters names for a reading
// of the config group apikey@resource ("" when none): the key
// "<apikey>@<resource>" first, then "<apikey>".
func (c *Config) converterFor(apikey, resource string) string {
	if id := c.Converters[apikey+"@"+resource]; id != "" {
		return id
	}
	return c.Converters[apikey]
}

// validateConverters checks the keys and ids of Config.Converters.
func validateConverters(c *Config, path string, es *config.Errors) {
	for key, id := range c.Converters {
		p := config.Join(path, "converters")
		apikey, resource, hasResource := strings.Cut(key, "@")
		if apikey == "" || (hasResource && !strings.HasPrefix(resource, "/")) {
			es.Add(p, "%q is not <apikey> or <apikey>@<resource> (e.g. \"k1@/iot/json\")", key)
		}
		if strings.TrimSpace(id) == "" {
			es.Add(p, "%q: the converter id is empty", key)
		}
	}
}

// convertMeasures passes each measurement object of a reading through the
// converter of its config group, when Config.Converters names one, before
// the group's attribute mapping: the converter gets the object and its
// result (an object) is mapped in its place. A converter that refuses the
// object is WRONG_SYNTAX; one that is missing or broken an internal error.
func (s *Service) convertMeasures(ctx context.Context, in Reading, objs []map[string]any) ([]map[string]any, error) {
	id := s.cfg.converterFor(in.APIKey, in.Resource)
	if id == "" {
		return objs, nil
	}
	if s.conv == nil {
		return nil, iotjson.InternalError(fmt.Errorf("iot.converters names converter %q, but the converters service is off", id))
	}
	out := make([]map[string]any, len(objs))
	for i, o := range objs {
		res, err := s.conv.Apply(ctx, id, o)
		if err != nil {
			if errors.Is(err, convert.ErrNotFound) || errors.Is(err, convert.ErrInvalid) {
				return nil, iotjson.InternalError(fmt.Errorf("converter of apikey %s: %w", in.APIKey, err))
			}
			return nil, wrongSyntax("converter %q refused measurement %d: %v", id, i, err)
		}
		m, ok := res.(map[string]any)
		if !ok {
			return nil, wrongSyntax("converter %q turned measurement %d into %T, not an object", id, i, res)
		}
		out[i] = m
	}
	return out, nil
}
