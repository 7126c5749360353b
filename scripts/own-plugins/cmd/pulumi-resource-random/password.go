package main

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"local/own-plugins/internal/grpcbase"
)

// The character classes of terraform-provider-random's random_password (its
// internal/random/string.go), which pulumi-random 4.21.4 bridges.
const (
	upperChars          = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars          = "abcdefghijklmnopqrstuvwxyz"
	numericChars        = "0123456789"
	defaultSpecialChars = "!@#$%&*()-_=+[]{}<>:?"
)

// The inputs of RandomPassword, as pulumi-random 4.21.4's schema names them.
var passwordInputs = []string{
	"length", "special", "upper", "lower", "numeric", "number", "minUpper", "minLower", "minNumeric",
	"minSpecial", "overrideSpecial", "keepers",
}

var (
	flagInputs  = []string{"special", "upper", "lower"}                        // default true
	countInputs = []string{"minUpper", "minLower", "minNumeric", "minSpecial"} // default 0
)

func isInput(k string) bool {
	for _, name := range passwordInputs {
		if name == k {
			return true
		}
	}
	return false
}

type checker struct{ failures []*pulumirpc.CheckFailure }

func (c *checker) fail(property, format string, args ...any) {
	c.failures = append(c.failures, &pulumirpc.CheckFailure{Property: property, Reason: fmt.Sprintf(format, args...)})
}

// known reports whether a value is present and known (a preview may have unknowns).
func known(v resource.PropertyValue) bool {
	v = grpcbase.Unwrap(v)
	return !v.IsNull() && !v.ContainsUnknowns()
}

// count reads a whole number input; ok is false when it is absent, unknown or not a whole number.
func (c *checker) count(m resource.PropertyMap, k string) (int64, bool) {
	v := m[resource.PropertyKey(k)]
	if !known(v) {
		return 0, false
	}
	n := grpcbase.Unwrap(v)
	if !n.IsNumber() || n.NumberValue() != float64(int64(n.NumberValue())) {
		c.fail(k, "%s must be a whole number, got %v", k, n)
		return 0, false
	}
	return int64(n.NumberValue()), true
}

func (c *checker) flag(m resource.PropertyMap, k string) (bool, bool) {
	v := m[resource.PropertyKey(k)]
	if !known(v) {
		return false, false
	}
	b := grpcbase.Unwrap(v)
	if !b.IsBool() {
		c.fail(k, "%s must be true or false, got %v", k, b)
		return false, false
	}
	return b.BoolValue(), true
}

// withDefaults is a RandomPassword's inputs with upstream's defaults filled in: special,
// upper and lower true, the minimums 0, and numeric and number (its deprecated alias) kept
// equal as terraform-provider-random's plan modifier does (either one given sets both;
// neither: true). The bridged pulumi-random keeps the inputs as the program gave them and
// writes the defaults into the outputs only; so does this plugin, and its Diff compares
// inputs with their defaults, so a state written by either plugin compares the same.
func withDefaults(given resource.PropertyMap) resource.PropertyMap {
	out := given.Copy()
	absent := func(k string) bool { return grpcbase.Unwrap(given[resource.PropertyKey(k)]).IsNull() }
	for _, k := range flagInputs {
		if absent(k) {
			out[resource.PropertyKey(k)] = resource.NewBoolProperty(true)
		}
	}
	for _, k := range countInputs {
		if absent(k) {
			out[resource.PropertyKey(k)] = resource.NewNumberProperty(0)
		}
	}
	switch {
	case absent("numeric") && absent("number"):
		out["numeric"], out["number"] = resource.NewBoolProperty(true), resource.NewBoolProperty(true)
	case absent("numeric"):
		out["numeric"] = given["number"]
	case absent("number"):
		out["number"] = given["numeric"]
	}
	for k, v := range out {
		if grpcbase.Unwrap(v).IsNull() {
			delete(out, k)
		}
	}
	return out
}

// checkPassword validates one RandomPassword's inputs (with their defaults) and returns them
// as given, as the bridged plugin does. Unknown values (a preview) are left alone and
// checked once known.
func checkPassword(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	c := &checker{}
	given := resource.PropertyMap{}
	var unknownKeys []string
	for k, v := range news {
		switch {
		case isInput(string(k)):
			given[k] = v
		case !strings.HasPrefix(string(k), "__"):
			unknownKeys = append(unknownKeys, string(k))
		}
	}
	sort.Strings(unknownKeys)
	for _, k := range unknownKeys {
		c.fail(k, "%s is not an input of RandomPassword this random plugin knows (it takes: %s)",
			k, strings.Join(passwordInputs, ", "))
	}
	for _, k := range flagInputs {
		c.flag(news, k)
	}
	for _, k := range countInputs {
		if n, ok := c.count(news, k); ok && n < 0 {
			c.fail(k, "%s must be 0 or more, got %d", k, n)
		}
	}
	nv, nok := c.flag(news, "numeric")
	bv, bok := c.flag(news, "number")
	if nok && bok && nv != bv {
		c.fail("number", "number (%v) and numeric (%v) are both set, to different values: number is "+
			"deprecated, use numeric only", bv, nv)
	}
	out := withDefaults(given)

	if v, ok := news["overrideSpecial"]; ok && known(v) && !grpcbase.Unwrap(v).IsString() {
		c.fail("overrideSpecial", "overrideSpecial must be a string of characters, got %v", grpcbase.Unwrap(v))
	}
	if v, ok := news["keepers"]; ok && known(v) {
		if k := grpcbase.Unwrap(v); !k.IsObject() {
			c.fail("keepers", "keepers must be a map of strings, got %v", k)
		} else {
			for name, e := range k.ObjectValue() {
				if known(e) && !grpcbase.Unwrap(e).IsString() {
					c.fail("keepers."+string(name), "keepers.%s must be a string, got %v", name, grpcbase.Unwrap(e))
				}
			}
		}
	}

	v, ok := news["length"]
	if !ok || grpcbase.Unwrap(v).IsNull() {
		c.fail("length", "length is required: the number of characters of the password (1 or more)")
		return given, c.failures
	}
	length, ok := c.count(news, "length")
	if !ok {
		return given, c.failures
	}
	if length < 1 {
		c.fail("length", "length must be 1 or more, got %d", length)
		return given, c.failures
	}
	// The minimums must fit in the length (terraform-provider-random: length must be >=
	// min_upper + min_lower + min_numeric + min_special).
	var sum int64
	var parts []string
	for _, k := range countInputs {
		n, ok := c.count(out, k)
		if !ok {
			return given, c.failures // unknown: checked when known
		}
		sum += n
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	if length < sum {
		c.fail("length", "length (%d) must be at least the sum of the minimums (%s: %d)",
			length, strings.Join(parts, " + "), sum)
		return given, c.failures
	}
	// The characters beyond the minimums come from the classes switched on; with none, the
	// upstream generator would draw from an empty set.
	if p, ok := readParams(out); ok && length > sum && p.alphabet() == "" {
		c.fail("length", "length (%d) is more than the minimums (%d), but upper, lower, numeric and "+
			"special are all false: no characters to make the other %d of", length, sum, length-sum)
	}
	return given, c.failures
}

// params are a checked RandomPassword's known inputs.
type params struct {
	length                                     int64
	upper, lower, numeric, special             bool
	minUpper, minLower, minNumeric, minSpecial int64
	overrideSpecial                            string
}

// readParams reads checked inputs; ok is false while any of them is unknown.
func readParams(m resource.PropertyMap) (params, bool) {
	c := &checker{}
	var p params
	var oks [9]bool
	p.length, oks[0] = c.count(m, "length")
	p.upper, oks[1] = c.flag(m, "upper")
	p.lower, oks[2] = c.flag(m, "lower")
	p.numeric, oks[3] = c.flag(m, "numeric")
	p.special, oks[4] = c.flag(m, "special")
	p.minUpper, oks[5] = c.count(m, "minUpper")
	p.minLower, oks[6] = c.count(m, "minLower")
	p.minNumeric, oks[7] = c.count(m, "minNumeric")
	p.minSpecial, oks[8] = c.count(m, "minSpecial")
	if v, ok := m["overrideSpecial"]; ok && !grpcbase.Unwrap(v).IsNull() {
		if !known(v) {
			return p, false
		}
		p.overrideSpecial = grpcbase.Unwrap(v).StringValue()
	}
	for _, ok := range oks {
		if !ok {
			return p, false
		}
	}
	return p, len(c.failures) == 0
}

// specials are the special characters: overrideSpecial when it is not empty (as upstream).
func (p params) specials() string {
	if p.overrideSpecial != "" {
		return p.overrideSpecial
	}
	return defaultSpecialChars
}

// alphabet is what the characters beyond the minimums are drawn from.
func (p params) alphabet() string {
	var b strings.Builder
	for _, class := range []struct {
		on    bool
		chars string
	}{{p.upper, upperChars}, {p.lower, lowerChars}, {p.numeric, numericChars}, {p.special, p.specials()}} {
		if class.on {
			b.WriteString(class.chars)
		}
	}
	return b.String()
}

// generate makes a password as upstream does: each minimum drawn from its class (whether or
// not that class is switched on, as upstream), the rest from the alphabet of the classes
// switched on, then the whole shuffled; every draw from crypto/rand.
func generate(p params) (string, error) {
	out := make([]byte, 0, p.length)
	for _, part := range []struct {
		chars string
		n     int64
	}{{upperChars, p.minUpper}, {lowerChars, p.minLower}, {numericChars, p.minNumeric}, {p.specials(), p.minSpecial}} {
		drawn, err := draw(part.chars, part.n)
		if err != nil {
			return "", err
		}
		out = append(out, drawn...)
	}
	rest, err := draw(p.alphabet(), p.length-int64(len(out)))
	if err != nil {
		return "", err
	}
	out = append(out, rest...)
	// Fisher-Yates with crypto/rand, so the minimums are not all at the front.
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

// draw picks n characters of chars uniformly (byte-wise: override characters are ASCII in
// practice, and upstream indexes bytes too).
func draw(chars string, n int64) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	if chars == "" {
		return nil, fmt.Errorf("no characters to draw %d from", n)
	}
	out := make([]byte, n)
	size := big.NewInt(int64(len(chars)))
	for i := range out {
		idx, err := rand.Int(rand.Reader, size)
		if err != nil {
			return nil, fmt.Errorf("reading crypto/rand: %w", err)
		}
		out[i] = chars[idx.Int64()]
	}
	return out, nil
}
