package codec

import (
	"fmt"

	"github.com/gridedge/gridedge/edge/settings"
)

// ExampleDecode decodes the luminance variable of the seed's PANASONIC map.
func ExampleDecode() {
	factor := 10.0
	v := settings.Variable{Name: "luminance", Type: "holding", Address: settings.Address{Register: 2}, Datatype: "16int", Factor: &factor}
	val, err := Decode(&v, "", []uint16{0xFFFE})
	fmt.Println(val, err)
	// Output: -20 <nil>
}
