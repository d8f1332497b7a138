package vsensors

import "github.com/gridedge/gridedge/shared/config"

func jsonInto(v any, s string) error { return config.Decode([]byte(s), v) }
