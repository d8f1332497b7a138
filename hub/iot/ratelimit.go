package iot

import "github.com/gridedge/gridedge/shared/iotjson"

// limiter is a token bucket per device (shared/iotjson). Buckets exist
// only for devices that passed the apikey and device checks, so their
// number is bounded by the provisioned devices.
type limiter = iotjson.Limiter[deviceKey]

func newLimiter(perSecond float64, burst int) *limiter {
	return iotjson.NewLimiter[deviceKey](perSecond, burst)
}
