// Package settings holds the X-FLEX Modbus plugin SETTINGS document (seed 000,
// section 3.3.5): Modbus maps, MQTT message templates, slaves, MQTT broker,
// poll period and log level. A SETTINGS document written for the original
// plugin is accepted unchanged; the fields GridEdge adds are optional and
// marked "GridEdge extension" below.
package settings

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/gridedge/gridedge/shared/config"
)

// EnvVar is the environment variable the original plugin read SETTINGS from.
const EnvVar = "SETTINGS"

// Settings is the X-FLEX Modbus SETTINGS document.
type Settings struct {
	// ModbusMaps maps a map name to the variables it defines.
	ModbusMaps map[string][]Variable `json:"modbusMaps"`
	// MQTTMessages maps a template name to a message template whose string
	// values may hold _VARIABLE_ and _DATE_ placeholders.
	MQTTMessages map[string]map[string]any `json:"mqttMessages,omitempty"`
	// ModbusSlaves lists the devices to poll.
	ModbusSlaves []Slave `json:"modbusSlaves"`
	// MQTT is the broker status is published to and commands come from.
	MQTT *MQTT `json:"mqtt,omitempty"`
	// Period is the poll period in seconds (default 10, as the original plugin).
	Period float64 `json:"period,omitempty"`
	// LogLevel is "Info" (everything), "Error" (errors only, the default),
	// or GridEdge's "Debug" and "Warn".
	LogLevel string `json:"logLevel,omitempty"`
}

// Register tables a variable can live in.
const (
	TypeHolding  = "holding"
	TypeInput    = "input"
	TypeCoil     = "coil"
	TypeDiscrete = "discrete"
)

// Variable is one entry of a Modbus map (seed 3.3.5.2).
type Variable struct {
	// Name names the variable; it is the measurement name in documents and
	// the _NAME_ placeholder in MQTT templates.
	Name string `json:"name"`
	// Type is the register table: holding, input, coil or discrete.
	Type string `json:"type"`
	// Address is the 0-based address; "12.3" (GridEdge extension) names bit 3
	// of register 12.
	Address Address `json:"address"`
	// Datatype is one of the Datatype* constants.
	Datatype string `json:"datatype"`
	// Datasize is the length in registers of string and ignore variables
	// (bytes for string when the register holds one character is not supported:
	// two characters per register, as the Modbus spec packs them).
	Datasize int `json:"datasize,omitempty"`
	// Factor multiplies the value (default 1).
	Factor *float64 `json:"factor,omitempty"`
	// Shift shifts the raw value right by this many bits (default 0).
	Shift uint `json:"shift,omitempty"`
	// Mask is applied after shifting (default none).
	Mask *uint64 `json:"mask,omitempty"`
	// Translation maps raw (scaled) values to labels, e.g. [[1,"COLD"],[2,"HEAT"]].
	Translation Translation `json:"translation,omitempty"`
	// Order is the byte and word order of multi-byte values (GridEdge
	// extension): ABCD (big-endian, default), CDAB, BADC or DCBA. Overrides
	// the slave's order.
	Order string `json:"order,omitempty"`
	// Offset is added after the factor (GridEdge extension).
	Offset *float64 `json:"offset,omitempty"`
	// Deadband suppresses a report when the value moved less than this since
	// the last report (GridEdge extension).
	Deadband *float64 `json:"deadband,omitempty"`
	// Writable allows writes through MQTT commands when true (GridEdge
	// extension). Unset or false means the variable is never written: only
	// holding registers and coils marked "writable": true are.
	Writable *bool `json:"writable,omitempty"`
	// Min and Max bound the engineering value a write may set (GridEdge
	// extension). A writable variable that holds a number (see
	// NeedsWriteBounds) must have both.
	Min *float64 `json:"min,omitempty"`
	// Max: see Min.
	Max *float64 `json:"max,omitempty"`
}

// IsWritable reports whether the map entry allows writes: "writable": true.
func (v *Variable) IsWritable() bool { return v.Writable != nil && *v.Writable }

// NeedsWriteBounds reports whether a write to v sets a number that min and
// max must bound: a holding-register variable of a numeric datatype that
// covers more than one bit. Coils, bits, bools, single-bit addresses,
// strings and ignore can only take values their datatype already limits.
func (v *Variable) NeedsWriteBounds() bool {
	if v.Type != TypeHolding || v.Address.HasBit {
		return false
	}
	switch v.Datatype {
	case DatatypeString, DatatypeBits, DatatypeIgnore, DatatypeBool:
		return false
	}
	return validDatatypes[v.Datatype]
}

// Datatypes of the seed, plus GridEdge's extensions.
const (
	DatatypeString  = "string"
	DatatypeBits    = "bits"
	Datatype8Int    = "8int"
	Datatype8Uint   = "8uint"
	Datatype16Int   = "16int"
	Datatype16Uint  = "16uint"
	Datatype32Int   = "32int"
	Datatype32Uint  = "32uint"
	Datatype16Float = "16float"
	Datatype32Float = "32float"
	Datatype64Int   = "64int"
	Datatype64Uint  = "64uint"
	Datatype64Float = "64float"
	DatatypeIgnore  = "ignore"
	// GridEdge extensions.
	Datatype48Int  = "48int"
	Datatype48Uint = "48uint"
	Datatype16BCD  = "16bcd"
	Datatype32BCD  = "32bcd"
	DatatypeBool   = "bool"
)

// RegisterCount returns how many 16-bit registers (or bits, for coil and
// discrete tables) the variable occupies.
func (v *Variable) RegisterCount() int {
	if v.Address.HasBit {
		return 1
	}
	if v.Type == TypeCoil || v.Type == TypeDiscrete {
		if v.Datasize > 0 && (v.Datatype == DatatypeBits || v.Datatype == DatatypeIgnore) {
			return v.Datasize
		}
		return 1
	}
	switch v.Datatype {
	case DatatypeString, DatatypeIgnore:
		return v.Datasize
	case Datatype32Int, Datatype32Uint, Datatype32Float, Datatype32BCD:
		return 2
	case Datatype48Int, Datatype48Uint:
		return 3
	case Datatype64Int, Datatype64Uint, Datatype64Float:
		return 4
	default:
		return 1
	}
}

// Orders of multi-byte values. A is the most significant byte.
var Orders = []string{"ABCD", "CDAB", "BADC", "DCBA"}

// Address is a 0-based register address, optionally naming one bit of the
// register ("12.3"). It decodes from a number or a string.
type Address struct {
	// Register is the 0-based register (or coil) address.
	Register uint16
	// Bit is the bit number 0..15 when HasBit.
	Bit uint8
	// HasBit tells whether the address names one bit.
	HasBit bool
}

// UnmarshalJSON accepts 12, "12" and "12.3".
func (a *Address) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	reg, bit, hasBit := strings.Cut(s, ".")
	n, err := strconv.ParseUint(reg, 10, 16)
	if err != nil {
		return fmt.Errorf("address %s is not a register number 0..65535 (optionally with .bit)", string(b))
	}
	*a = Address{Register: uint16(n)}
	if hasBit {
		bn, err := strconv.ParseUint(bit, 10, 8)
		if err != nil || bn > 15 {
			return fmt.Errorf("address %s: bit must be 0..15", string(b))
		}
		a.Bit, a.HasBit = uint8(bn), true
	}
	return nil
}

// MarshalJSON writes a number, or "reg.bit" when the address names a bit.
func (a Address) MarshalJSON() ([]byte, error) {
	if a.HasBit {
		return json.Marshal(a.String())
	}
	return []byte(strconv.Itoa(int(a.Register))), nil
}

func (a Address) String() string {
	if a.HasBit {
		return fmt.Sprintf("%d.%d", a.Register, a.Bit)
	}
	return strconv.Itoa(int(a.Register))
}

// TranslationPair maps one raw value to one label.
type TranslationPair struct {
	// Raw is the value read from the device, after shift, mask, factor and offset.
	Raw float64
	// Label is what the value is reported as.
	Label any
}

// Translation is the translation table of a variable. It decodes from the
// seed's array of pairs [[1,"COLD"],[2,"HEAT"]] or from an object {"1":"COLD"}.
type Translation []TranslationPair

// UnmarshalJSON accepts both forms.
func (t *Translation) UnmarshalJSON(b []byte) error {
	var pairs [][]any
	if err := json.Unmarshal(b, &pairs); err == nil {
		out := make(Translation, 0, len(pairs))
		for i, p := range pairs {
			if len(p) != 2 {
				return fmt.Errorf("translation[%d]: want a pair [raw, label], got %d elements", i, len(p))
			}
			raw, ok := p[0].(float64)
			if !ok {
				return fmt.Errorf("translation[%d]: raw value %v is not a number", i, p[0])
			}
			out = append(out, TranslationPair{Raw: raw, Label: p[1]})
		}
		*t = out
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("translation: want an array of [raw, label] pairs or an object")
	}
	out := make(Translation, 0, len(obj))
	for k, label := range obj {
		raw, err := strconv.ParseFloat(k, 64)
		if err != nil {
			return fmt.Errorf("translation: key %q is not a number", k)
		}
		out = append(out, TranslationPair{Raw: raw, Label: label})
	}
	*t = out
	return nil
}

// MarshalJSON writes the seed's array-of-pairs form.
func (t Translation) MarshalJSON() ([]byte, error) {
	pairs := make([][2]any, len(t))
	for i, p := range t {
		pairs[i] = [2]any{p.Raw, p.Label}
	}
	return json.Marshal(pairs)
}

// Lookup returns the label for raw.
func (t Translation) Lookup(raw float64) (any, bool) {
	for _, p := range t {
		if p.Raw == raw {
			return p.Label, true
		}
	}
	return nil, false
}

// Reverse returns the raw value for label.
func (t Translation) Reverse(label any) (float64, bool) {
	for _, p := range t {
		if fmt.Sprint(p.Label) == fmt.Sprint(label) {
			return p.Raw, true
		}
	}
	return 0, false
}

// Slave is one Modbus device (seed 3.3.5.1).
type Slave struct {
	// IP is the host of a Modbus TCP device (mandatory for TCP).
	IP string `json:"ip,omitempty"`
	// Port is the TCP port (GridEdge extension; default 502).
	Port int `json:"port,omitempty"`
	// Protocol is "tcp" (default with ip), "rtuovertcp", "rtu" (default with
	// serialPort) or "ascii" (GridEdge extension).
	Protocol string `json:"protocol,omitempty"`
	// SerialPort is the serial device of an RTU slave, e.g. /dev/ttyUSB0.
	SerialPort string `json:"serialPort,omitempty"`
	// BaudRate of the serial port.
	BaudRate int `json:"baudRate,omitempty"`
	// ByteSize (data bits) of the serial port.
	ByteSize int `json:"byteSize,omitempty"`
	// Parity of the serial port: N, E or O (also "none", "even", "odd").
	Parity string `json:"parity,omitempty"`
	// StopBits of the serial port: 1 or 2.
	StopBits int `json:"stopBits,omitempty"`
	// SlaveID is the Modbus unit identifier.
	SlaveID int `json:"slaveId"`
	// Map names the entry of modbusMaps the device implements.
	Map string `json:"map"`
	// MQTTPublications are the status messages published every period.
	MQTTPublications []Publication `json:"mqttPublications,omitempty"`
	// MQTTSubscriptions are topics whose messages write the device's variables.
	MQTTSubscriptions []string `json:"mqttSubscriptions,omitempty"`
	// Period overrides the global poll period for this slave, in seconds (GridEdge extension).
	Period float64 `json:"period,omitempty"`
	// Timeout is the response timeout in seconds (GridEdge extension; default 1).
	Timeout float64 `json:"timeout,omitempty"`
	// Order is the default byte/word order of the slave's variables (GridEdge extension).
	Order string `json:"order,omitempty"`
	// MaxRegisters caps the registers read in one request (GridEdge
	// extension; default 125, the protocol maximum).
	MaxRegisters int `json:"maxRegisters,omitempty"`
	// MaxInFlight lets up to this many requests be outstanding at once on a
	// Modbus TCP device that supports it (GridEdge extension; default 1).
	MaxInFlight int `json:"maxInFlight,omitempty"`
	// MaxGap is how many unused registers the poller may read to join two
	// variables into one request (GridEdge extension; default 8).
	MaxGap *int `json:"maxGap,omitempty"`
	// Document names the hub document the slave's readings update
	// (GridEdge extension; defaults are described in docs/configuration.md).
	Document *Document `json:"document,omitempty"`
}

// Document names a hub document: layer, collection and _id.
type Document struct {
	// Layer names the layer.
	Layer string `json:"layer"`
	// Collection names the collection inside the layer.
	Collection string `json:"collection"`
	// ID is the document's _id.
	ID string `json:"id"`
}

// Publication is one MQTT status message of a slave (seed 3.3.5.3).
type Publication struct {
	// Topic is the MQTT topic.
	Topic string `json:"topic"`
	// MessageBase names the template in mqttMessages.
	MessageBase string `json:"messageBase"`
	// MessageExtras are fields added to the message.
	MessageExtras map[string]any `json:"messageExtras,omitempty"`
}

// MQTT is the broker the plugin talks to.
type MQTT struct {
	// Host is the broker: a host name or IP (port 1883), host:port, or a URL
	// such as mqtt://host:1883, mqtts://host:8883, ws://host/mqtt.
	Host string `json:"host"`
	// Credentials are optional.
	Credentials *Credentials `json:"credentials,omitempty"`
	// ClientID is the MQTT client id (GridEdge extension; default derived from the edge id).
	ClientID string `json:"clientId,omitempty"`
}

// Credentials are a user name and password.
type Credentials struct {
	// Username is the user name.
	Username string `json:"username"`
	// Password is the password.
	Password string `json:"password"`
}

// Load decodes a SETTINGS document strictly and validates it.
func Load(data []byte) (*Settings, error) {
	var s Settings
	if err := config.Decode(data, &s); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// FromEnv loads SETTINGS from the SETTINGS environment variable, as the
// original plugin did; ok is false when the variable is not set.
func FromEnv() (s *Settings, ok bool, err error) {
	v, ok := os.LookupEnv(EnvVar)
	if !ok {
		return nil, false, nil
	}
	s, err = Load([]byte(v))
	if err != nil {
		return nil, true, fmt.Errorf("%s environment variable: %w", EnvVar, err)
	}
	return s, true, nil
}

// PeriodOf returns the poll period of slave i in seconds.
func (s *Settings) PeriodOf(sl *Slave) float64 {
	if sl.Period > 0 {
		return sl.Period
	}
	if s.Period > 0 {
		return s.Period
	}
	return 10
}

var validDatatypes = map[string]bool{
	DatatypeString: true, DatatypeBits: true, Datatype8Int: true, Datatype8Uint: true,
	Datatype16Int: true, Datatype16Uint: true, Datatype32Int: true, Datatype32Uint: true,
	Datatype16Float: true, Datatype32Float: true, Datatype64Int: true, Datatype64Uint: true,
	Datatype64Float: true, DatatypeIgnore: true, Datatype48Int: true, Datatype48Uint: true,
	Datatype16BCD: true, Datatype32BCD: true, DatatypeBool: true,
}

// ValidOrder reports whether o is empty or one of Orders.
func ValidOrder(o string) bool {
	if o == "" {
		return true
	}
	for _, x := range Orders {
		if o == x {
			return true
		}
	}
	return false
}

// Validate reports every problem of the document at once, with field paths.
func (s *Settings) Validate() error {
	var es config.Errors
	if len(s.ModbusMaps) == 0 {
		es.Add("modbusMaps", "at least one map is required")
	}
	for name, vars := range s.ModbusMaps {
		ValidateMap(&es, config.Join("modbusMaps", name), vars)
	}
	if s.Period < 0 || math.IsNaN(s.Period) {
		es.Add("period", "must be a positive number of seconds, got %v", s.Period)
	}
	switch strings.ToLower(s.LogLevel) {
	case "", "info", "error", "debug", "warn", "warning":
	default:
		es.Add("logLevel", "%q is not one of Info, Error, Warn, Debug", s.LogLevel)
	}
	if s.MQTT != nil && s.MQTT.Host == "" {
		es.Add("mqtt.host", "is required when mqtt is given")
	}
	for i := range s.ModbusSlaves {
		s.validateSlave(&es, config.Index("modbusSlaves", i), &s.ModbusSlaves[i])
	}
	return es.Err()
}

// ValidateMap checks the variables of one map.
func ValidateMap(es *config.Errors, path string, vars []Variable) {
	seen := map[string]bool{}
	for i := range vars {
		v := &vars[i]
		p := config.Index(path, i)
		if v.Name == "" {
			es.Add(config.Join(p, "name"), "is required")
		} else if seen[v.Name] {
			es.Add(config.Join(p, "name"), "%q is defined twice in the map", v.Name)
		}
		seen[v.Name] = true
		switch v.Type {
		case TypeHolding, TypeInput, TypeCoil, TypeDiscrete:
		default:
			es.Add(config.Join(p, "type"), "%q is not one of holding, input, coil, discrete", v.Type)
		}
		if !validDatatypes[v.Datatype] {
			es.Add(config.Join(p, "datatype"), "%q is not a known datatype", v.Datatype)
		}
		if (v.Datatype == DatatypeString || v.Datatype == DatatypeIgnore) && v.Datasize <= 0 {
			es.Add(config.Join(p, "datasize"), "is required (> 0) for datatype %s", v.Datatype)
		}
		if v.Datasize < 0 || v.Datasize > 125 {
			es.Add(config.Join(p, "datasize"), "%d is out of range 1..125", v.Datasize)
		}
		if !ValidOrder(v.Order) {
			es.Add(config.Join(p, "order"), "%q is not one of ABCD, CDAB, BADC, DCBA", v.Order)
		}
		if v.Address.HasBit && (v.Type == TypeCoil || v.Type == TypeDiscrete) {
			es.Add(config.Join(p, "address"), "a bit address applies to registers, not to %s", v.Type)
		}
		if v.Factor != nil && (*v.Factor == 0 || math.IsNaN(*v.Factor) || math.IsInf(*v.Factor, 0)) {
			es.Add(config.Join(p, "factor"), "must be a finite non-zero number")
		}
		if v.Shift > 63 {
			es.Add(config.Join(p, "shift"), "%d is more than 63 bits", v.Shift)
		}
		if v.Min != nil && v.Max != nil && *v.Min > *v.Max {
			es.Add(config.Join(p, "min"), "%v is greater than max %v", *v.Min, *v.Max)
		}
		validateWritable(es, p, v)
		if end := int(v.Address.Register) + v.RegisterCount(); end > 65536 {
			es.Add(config.Join(p, "address"), "variable runs past the last address 65535")
		}
	}
}

// validateWritable checks a variable marked "writable": true: it must live
// in a writable table and, when it holds a number, have both min and max,
// so that no write reaches the device unbounded.
func validateWritable(es *config.Errors, p string, v *Variable) {
	if !v.IsWritable() {
		return
	}
	if v.Type == TypeInput || v.Type == TypeDiscrete {
		es.Add(config.Join(p, "writable"), "variable %q is in the read-only %s table", v.Name, v.Type)
		return
	}
	if !v.NeedsWriteBounds() {
		return
	}
	if v.Min == nil {
		es.Add(config.Join(p, "min"), "is required: variable %q is writable and numeric, so writes need both min and max", v.Name)
	}
	if v.Max == nil {
		es.Add(config.Join(p, "max"), "is required: variable %q is writable and numeric, so writes need both min and max", v.Name)
	}
}

func (s *Settings) validateSlave(es *config.Errors, p string, sl *Slave) {
	if sl.IP == "" && sl.SerialPort == "" {
		es.Add(p, "either ip (Modbus TCP) or serialPort (Modbus RTU) is required")
	}
	if sl.IP != "" && sl.SerialPort != "" {
		es.Add(p, "ip and serialPort are exclusive")
	}
	switch sl.Protocol {
	case "":
	case "tcp", "rtuovertcp":
		if sl.IP == "" {
			es.Add(config.Join(p, "protocol"), "%s needs ip", sl.Protocol)
		}
	case "rtu", "ascii":
		if sl.SerialPort == "" {
			es.Add(config.Join(p, "protocol"), "%s needs serialPort", sl.Protocol)
		}
	default:
		es.Add(config.Join(p, "protocol"), "%q is not one of tcp, rtuovertcp, rtu, ascii", sl.Protocol)
	}
	if sl.Port < 0 || sl.Port > 65535 {
		es.Add(config.Join(p, "port"), "%d is out of range 1..65535", sl.Port)
	}
	if sl.SerialPort != "" {
		if sl.BaudRate <= 0 {
			es.Add(config.Join(p, "baudRate"), "is required for a serial slave")
		}
		if sl.ByteSize != 0 && (sl.ByteSize < 7 || sl.ByteSize > 8) {
			es.Add(config.Join(p, "byteSize"), "%d is not 7 or 8", sl.ByteSize)
		}
		switch strings.ToUpper(sl.Parity) {
		case "", "N", "E", "O", "NONE", "EVEN", "ODD":
		default:
			es.Add(config.Join(p, "parity"), "%q is not N, E or O", sl.Parity)
		}
		if sl.StopBits != 0 && sl.StopBits != 1 && sl.StopBits != 2 {
			es.Add(config.Join(p, "stopBits"), "%d is not 1 or 2", sl.StopBits)
		}
	}
	if sl.SlaveID < 0 || sl.SlaveID > 255 {
		es.Add(config.Join(p, "slaveId"), "%d is out of range 0..255", sl.SlaveID)
	}
	if sl.Map == "" {
		es.Add(config.Join(p, "map"), "is required")
	} else if _, ok := s.ModbusMaps[sl.Map]; !ok {
		es.Add(config.Join(p, "map"), "%q is not defined in modbusMaps", sl.Map)
	}
	for j, pub := range sl.MQTTPublications {
		pp := config.Index(config.Join(p, "mqttPublications"), j)
		if pub.Topic == "" {
			es.Add(config.Join(pp, "topic"), "is required")
		}
		if _, ok := s.MQTTMessages[pub.MessageBase]; !ok {
			es.Add(config.Join(pp, "messageBase"), "%q is not defined in mqttMessages", pub.MessageBase)
		}
	}
	if (len(sl.MQTTPublications) > 0 || len(sl.MQTTSubscriptions) > 0) && s.MQTT == nil {
		es.Add(p, "mqttPublications/mqttSubscriptions need the mqtt broker settings")
	}
	if sl.Period < 0 {
		es.Add(config.Join(p, "period"), "must be positive")
	}
	if sl.Timeout < 0 {
		es.Add(config.Join(p, "timeout"), "must be positive")
	}
	if !ValidOrder(sl.Order) {
		es.Add(config.Join(p, "order"), "%q is not one of ABCD, CDAB, BADC, DCBA", sl.Order)
	}
	if sl.MaxRegisters < 0 || sl.MaxRegisters > 125 {
		es.Add(config.Join(p, "maxRegisters"), "%d is out of range 1..125", sl.MaxRegisters)
	}
	if sl.MaxInFlight < 0 || sl.MaxInFlight > 64 {
		es.Add(config.Join(p, "maxInFlight"), "%d is out of range 1..64", sl.MaxInFlight)
	}
	if sl.MaxInFlight > 1 && (sl.IP == "" || (sl.Protocol != "" && sl.Protocol != "tcp")) {
		es.Add(config.Join(p, "maxInFlight"), "several requests in flight need Modbus TCP (serial framings have no transaction id)")
	}
	if sl.MaxGap != nil && (*sl.MaxGap < 0 || *sl.MaxGap > 124) {
		es.Add(config.Join(p, "maxGap"), "%d is out of range 0..124", *sl.MaxGap)
	}
	if d := sl.Document; d != nil {
		if d.Layer == "" || d.Collection == "" || d.ID == "" {
			es.Add(config.Join(p, "document"), "layer, collection and id are all required")
		}
		if strings.Contains(d.Layer, "_") {
			es.Add(config.Join(p, "document.layer"), "%q must not contain '_'", d.Layer)
		}
	}
}
