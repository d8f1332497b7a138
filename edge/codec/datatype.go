package codec

import "github.com/gridedge/gridedge/edge/settings"

// dtKind is the family of a datatype.
type dtKind uint8

const (
	kindSigned dtKind = iota
	kindUnsigned
	kindFloat
	kindBCD
	kindBool
	kindBits
	kindString
	kindIgnore
)

// dtInfo describes a datatype: its family and its width in bits.
type dtInfo struct {
	kind  dtKind
	width uint
}

// datatypeInfo looks up a SETTINGS datatype; ok is false when it is unknown.
func datatypeInfo(dt string) (dtInfo, bool) {
	switch dt {
	case settings.Datatype8Int:
		return dtInfo{kindSigned, 8}, true
	case settings.Datatype8Uint:
		return dtInfo{kindUnsigned, 8}, true
	case settings.Datatype16Int:
		return dtInfo{kindSigned, 16}, true
	case settings.Datatype16Uint:
		return dtInfo{kindUnsigned, 16}, true
	case settings.Datatype32Int:
		return dtInfo{kindSigned, 32}, true
	case settings.Datatype32Uint:
		return dtInfo{kindUnsigned, 32}, true
	case settings.Datatype48Int:
		return dtInfo{kindSigned, 48}, true
	case settings.Datatype48Uint:
		return dtInfo{kindUnsigned, 48}, true
	case settings.Datatype64Int:
		return dtInfo{kindSigned, 64}, true
	case settings.Datatype64Uint:
		return dtInfo{kindUnsigned, 64}, true
	case settings.Datatype16Float:
		return dtInfo{kindFloat, 16}, true
	case settings.Datatype32Float:
		return dtInfo{kindFloat, 32}, true
	case settings.Datatype64Float:
		return dtInfo{kindFloat, 64}, true
	case settings.Datatype16BCD:
		return dtInfo{kindBCD, 16}, true
	case settings.Datatype32BCD:
		return dtInfo{kindBCD, 32}, true
	case settings.DatatypeBool:
		return dtInfo{kindBool, 16}, true
	case settings.DatatypeBits:
		return dtInfo{kindBits, 16}, true
	case settings.DatatypeString:
		return dtInfo{kindString, 0}, true
	case settings.DatatypeIgnore:
		return dtInfo{kindIgnore, 0}, true
	}
	return dtInfo{}, false
}
