package iot

import (
	"github.com/gridedge/gridedge/shared/iotjson"
)

// Group is a config group as the provisioning API reads and writes it
// (seed 003, "Config group datamodel"; shared/iotjson).
type Group = iotjson.Group

// Command is a command attribute.
type Command = iotjson.Command

// Device is a device as the provisioning API reads and writes it (seed
// 003, "Device datamodel"), plus GridEdge's token_created.
type Device = iotjson.Device

// compiled is what a reading of one device needs: its document and the
// transformation of its attributes merged with its group's.
type compiled = iotjson.Compiled

// LayerOf maps a fiware-service to the layer its devices write to: the
// service with '_' turned into '-' (shared/iotjson).
func LayerOf(service string) (string, error) { return iotjson.LayerOf(service) }

// The provisioning model's checks and helpers, shared with the edge.
var (
	checkServicePath = iotjson.CheckServicePath
	decodeStrict     = iotjson.DecodeStrict
	merge            = iotjson.Merge
	checkGroup       = iotjson.CheckGroup
	checkDevice      = iotjson.CheckDevice
	entityName       = iotjson.EntityName
	compile          = iotjson.Compile
	newToken         = iotjson.NewToken
	hashToken        = iotjson.HashToken
	tokenMatches     = iotjson.TokenMatches
)
