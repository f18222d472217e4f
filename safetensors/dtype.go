package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType names the element type of a stored tensor, spelled as in the
// safetensors header ("F32", "BF16", ...).
type DType string

// Element types. Every one of them is accepted when a file is validated;
// Tensor converts all but C64 and the sub-byte float formats to float32.
// Writing supports F32, F16 and BF16.
const (
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	F64    DType = "F64"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	BOOL   DType = "BOOL"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	F8E8M0 DType = "F8_E8M0"
	C64    DType = "C64"
	F4     DType = "F4"
	F6E2M3 DType = "F6_E2M3"
	F6E3M2 DType = "F6_E3M2"
)

// dtypeInfo describes a dtype: its width in bits and its rank in the
// reference implementation's enum, which orders tensors in a written file
// (descending rank, then name).
type dtypeInfo struct {
	bits int
	rank int
}

// dtypes mirrors the Rust `safetensors::Dtype` enum in declaration order.
var dtypes = map[DType]dtypeInfo{
	BOOL:   {8, 0},
	F4:     {4, 1},
	F6E2M3: {6, 2},
	F6E3M2: {6, 3},
	U8:     {8, 4},
	I8:     {8, 5},
	F8E5M2: {8, 6},
	F8E4M3: {8, 7},
	F8E8M0: {8, 8},
	I16:    {16, 9},
	U16:    {16, 10},
	F16:    {16, 11},
	BF16:   {16, 12},
	I32:    {32, 13},
	U32:    {32, 14},
	F32:    {32, 15},
	C64:    {64, 16},
	F64:    {64, 17},
	I64:    {64, 18},
	U64:    {64, 19},
}

// Bits is the width of one element in bits (0 for an unknown dtype).
func (d DType) Bits() int { return dtypes[d].bits }

// Valid reports whether d is a dtype the format defines.
func (d DType) Valid() bool { _, ok := dtypes[d]; return ok }

// writable reports whether the Writer can encode float32 values as d.
func (d DType) writable() bool { return d == F32 || d == F16 || d == BF16 }

// F32ToF16 converts f to IEEE 754 binary16 bits, rounding to nearest with
// ties to even. Values beyond the f16 range become ±Inf, values below half
// the smallest subnormal (2⁻²⁵) become ±0, NaN becomes the quiet NaN
// sign|0x7E00 (what PyTorch writes).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // f16 biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// f16 subnormal: value = m·2⁻²⁴ with m = M·2^(exp-126), M the
		// 24-bit significand, i.e. M shifted right by 14-e.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may carry into the smallest normal, which is correct
		}
		return sign | uint16(r)
	}
	h := uint16(e)<<10 | uint16(mant>>13)
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a mantissa carry bumps the exponent; 0x7bff+1 = Inf
	}
	return sign | h
}

// F16ToF32 converts binary16 bits to float32 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		// subnormal or zero: mant·2⁻²⁴, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	}
}

// F32ToBF16 converts f to bfloat16 bits (the top half of a float32),
// rounding to nearest with ties to even; NaN becomes sign|0x7FC0.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16)&0x8000 | 0x7fc0
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16ToF32 converts bfloat16 bits to float32 exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f8e4m3ToF32 decodes float8 E4M3FN (bias 7, no infinities, S.1111.111 = NaN).
func f8e4m3ToF32(b byte) float32 {
	sign := float32(1)
	if b&0x80 != 0 {
		sign = -1
	}
	exp := int(b>>3) & 0xf
	mant := float32(b & 7)
	switch {
	case exp == 0xf && b&7 == 7:
		return float32(math.NaN())
	case exp == 0:
		return sign * mant * (1.0 / 512) // mant/8 · 2⁻⁶
	default:
		return sign * (1 + mant/8) * float32(math.Ldexp(1, exp-7))
	}
}

// f8e8m0ToF32 decodes the unsigned exponent-only float8 E8M0: 2^(b-127), 0xFF = NaN.
func f8e8m0ToF32(b byte) float32 {
	if b == 0xff {
		return float32(math.NaN())
	}
	return float32(math.Ldexp(1, int(b)-127))
}

// decode converts raw little-endian elements of dtype d into dst.
// len(src) must be len(dst)·Bits/8.
func decode(dst []float32, src []byte, d DType) error {
	le := binary.LittleEndian
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(le.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(le.Uint16(src[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	case I64:
		for i := range dst {
			dst[i] = float32(int64(le.Uint64(src[8*i:])))
		}
	case U64:
		for i := range dst {
			dst[i] = float32(le.Uint64(src[8*i:]))
		}
	case I32:
		for i := range dst {
			dst[i] = float32(int32(le.Uint32(src[4*i:])))
		}
	case U32:
		for i := range dst {
			dst[i] = float32(le.Uint32(src[4*i:]))
		}
	case I16:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(src[2*i:])))
		}
	case U16:
		for i := range dst {
			dst[i] = float32(le.Uint16(src[2*i:]))
		}
	case I8:
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	case U8:
		for i := range dst {
			dst[i] = float32(src[i])
		}
	case BOOL:
		for i := range dst {
			if src[i] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	case F8E5M2:
		for i := range dst {
			dst[i] = F16ToF32(uint16(src[i]) << 8) // E5M2 is the top byte of an f16
		}
	case F8E4M3:
		for i := range dst {
			dst[i] = f8e4m3ToF32(src[i])
		}
	case F8E8M0:
		for i := range dst {
			dst[i] = f8e8m0ToF32(src[i])
		}
	default:
		return fmt.Errorf("dtype %s cannot be converted to float32", d)
	}
	return nil
}

// encode writes src as little-endian elements of dtype d (F32, F16 or BF16)
// into dst, which holds len(src)·Bits/8 bytes.
func encode(dst []byte, src []float32, d DType) {
	le := binary.LittleEndian
	switch d {
	case F32:
		for i, v := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], F32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], F32ToBF16(v))
		}
	}
}
