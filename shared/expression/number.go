package expression

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// numberToString implements Number::toString(10): the shortest digits that
// round-trip, in fixed notation for 1e-7 <= |x| < 1e21 and exponent notation
// ("1e+21", "1.5e-7") otherwise.
func numberToString(f float64) string {
	switch {
	case f != f:
		return "NaN"
	case f == 0:
		return "0"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±XX
	neg := false
	if e[0] == '-' {
		neg = true
		e = e[1:]
	}
	ei := strings.IndexByte(string(e), 'e')
	mant, expPart := e[:ei], string(e[ei+1:])
	digits := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	exp, _ := strconv.Atoi(expPart)
	k, n := len(digits), exp+1
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case k <= n && n <= 21:
		b.Write(digits)
		b.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		b.Write(digits[:n])
		b.WriteByte('.')
		b.Write(digits[n:])
	case -6 < n && n <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n))
		b.Write(digits)
	default:
		b.WriteByte(digits[0])
		if k > 1 {
			b.WriteByte('.')
			b.Write(digits[1:])
		}
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(n - 1))
	}
	return b.String()
}

// toFixed implements Number.prototype.toFixed(d) for 0 <= d <= 100. It rounds
// the exact binary value; an exact tie picks the larger magnitude, as the
// specification's "if there are two such n, pick the larger n" requires.
func toFixed(x float64, d int) string {
	if x != x {
		return "NaN"
	}
	if math.Abs(x) >= 1e21 {
		return numberToString(x)
	}
	neg := x < 0
	x = math.Abs(x)
	s := strconv.FormatFloat(x, 'f', d, 64)
	// strconv rounds ties to even; detect an exact tie and round up instead.
	r := new(big.Rat).SetFloat64(x)
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil)))
	if r.Denom().Cmp(big.NewInt(2)) == 0 {
		n := new(big.Int).Add(r.Num(), big.NewInt(1))
		n.Rsh(n, 1)
		digits := n.String()
		if d > 0 {
			if len(digits) <= d {
				digits = strings.Repeat("0", d-len(digits)+1) + digits
			}
			digits = digits[:len(digits)-d] + "." + digits[len(digits)-d:]
		}
		s = digits
	}
	if neg {
		return "-" + s
	}
	return s
}

// jsRound implements Math.round (ties toward +Infinity).
func jsRound(x float64) float64 {
	if x != x || math.IsInf(x, 0) || x == 0 {
		return x
	}
	if x > 0 && x < 0.5 {
		return 0
	}
	if x < 0 && x >= -0.5 {
		return math.Copysign(0, -1)
	}
	r := math.Floor(x)
	if x-r >= 0.5 {
		r++
	}
	return r
}

// jsPow implements Math.pow, which differs from math.Pow for a base of ±1
// with an infinite or NaN exponent.
func jsPow(x, y float64) float64 {
	if y != y {
		return math.NaN()
	}
	if (x == 1 || x == -1) && math.IsInf(y, 0) {
		return math.NaN()
	}
	return math.Pow(x, y)
}

// parseIntJS implements parseInt(string) without a radix argument.
func parseIntJS(s string) float64 {
	s = strings.TrimLeftFunc(s, isJSSpace)
	sign := 1.0
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	base := 10
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base = 16
		s = s[2:]
	}
	f, ok := parseRadix(s, base)
	if !ok {
		return math.NaN()
	}
	return sign * f
}

// parseIntRadix implements parseInt(string, radix) for 2 <= radix <= 36.
func parseIntRadix(s string, radix int) float64 {
	s = strings.TrimLeftFunc(s, isJSSpace)
	sign := 1.0
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	if radix == 16 && len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	f, ok := parseRadix(s, radix)
	if !ok {
		return math.NaN()
	}
	return sign * f
}

// parseFloatJS implements parseFloat(string).
func parseFloatJS(s string) float64 {
	s = strings.TrimLeftFunc(s, isJSSpace)
	n, ok := decimalPrefix(s)
	if !ok {
		return math.NaN()
	}
	return parseDecimal(s[:n])
}
