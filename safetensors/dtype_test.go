package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

func TestF32ToF16BitPatterns(t *testing.T) {
	cases := []struct {
		in   uint32 // float32 bits
		want uint16
		note string
	}{
		{0x00000000, 0x0000, "+0"},
		{0x80000000, 0x8000, "-0"},
		{0x3f800000, 0x3c00, "1"},
		{0xc0000000, 0xc000, "-2"},
		{0x477fe000, 0x7bff, "65504 = max f16"},
		{0x477fefff, 0x7bff, "just below the overflow midpoint"},
		{0x477ff000, 0x7c00, "65520: tie between max and 2^16 rounds to even = Inf"},
		{0x47800000, 0x7c00, "65536 overflows"},
		{0x7f800000, 0x7c00, "+Inf"},
		{0xff800000, 0xfc00, "-Inf"},
		{0x7fc00000, 0x7e00, "NaN"},
		{0xffc00001, 0xfe00, "-NaN with payload"},
		{0x38800000, 0x0400, "2^-14 smallest normal"},
		{0x387fc000, 0x03ff, "largest subnormal"},
		{0x387fe000, 0x0400, "tie above largest subnormal rounds to even = smallest normal"},
		{0x33800000, 0x0001, "2^-24 smallest subnormal"},
		{0x33000000, 0x0000, "2^-25: tie to even = 0"},
		{0x33000001, 0x0001, "just above 2^-25 rounds up"},
		{0x33c00000, 0x0002, "1.5·2^-24: tie to even = 2"},
		{0x34200000, 0x0002, "2.5·2^-24: tie to even = 2"},
		{0x00000001, 0x0000, "f32 subnormal"},
		{0x3f801000, 0x3c00, "1+2^-11: tie to even stays 1"},
		{0x3f803000, 0x3c02, "1+3·2^-11: tie to even rounds up"},
		{0x3f801001, 0x3c01, "above the tie rounds up"},
		{0x3dcccccd, 0x2e66, "0.1"},
	}
	for _, c := range cases {
		if got := F32ToF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("F32ToF16(%#08x) %s = %#04x, want %#04x", c.in, c.note, got, c.want)
		}
	}
}

func TestF32ToBF16BitPatterns(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
		note string
	}{
		{0x00000000, 0x0000, "+0"},
		{0x80000000, 0x8000, "-0"},
		{0x3f800000, 0x3f80, "1"},
		{0x3f808000, 0x3f80, "tie to even stays"},
		{0x3f818000, 0x3f82, "tie to even rounds up"},
		{0x3f808001, 0x3f81, "above tie"},
		{0x3f807fff, 0x3f80, "below tie"},
		{0x7f7fffff, 0x7f80, "max f32 rounds to Inf"},
		{0x7f7f7fff, 0x7f7f, "stays finite"},
		{0x7f800000, 0x7f80, "+Inf"},
		{0xff800000, 0xff80, "-Inf"},
		{0x7f800001, 0x7fc0, "signalling NaN becomes quiet, not Inf"},
		{0xffffffff, 0xffc0, "-NaN"},
		{0x00008000, 0x0000, "subnormal tie to even = 0"},
		{0x00018000, 0x0002, "subnormal tie rounds up to even"},
		{0x3dcccccd, 0x3dcd, "0.1"},
	}
	for _, c := range cases {
		if got := F32ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("F32ToBF16(%#08x) %s = %#04x, want %#04x", c.in, c.note, got, c.want)
		}
	}
}

func TestHalfToF32Exact(t *testing.T) {
	// Every f16/bf16 value converts to float32 and back unchanged (NaN stays NaN).
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToF32(h)
		isNaN := h&0x7c00 == 0x7c00 && h&0x3ff != 0
		if isNaN != math.IsNaN(float64(f)) {
			t.Fatalf("F16ToF32(%#04x) = %v, NaN mismatch", h, f)
		}
		if !isNaN && F32ToF16(f) != h {
			t.Fatalf("F16 %#04x -> %v -> %#04x", h, f, F32ToF16(f))
		}
		b := BF16ToF32(h)
		if math.Float32bits(b) != uint32(h)<<16 {
			t.Fatalf("BF16ToF32(%#04x) bits %#08x", h, math.Float32bits(b))
		}
		if !math.IsNaN(float64(b)) && F32ToBF16(b) != h {
			t.Fatalf("BF16 %#04x round trip gave %#04x", h, F32ToBF16(b))
		}
	}
	// Hand-checked values.
	checks := map[uint16]float32{0x0001: 5.960464477539063e-08, 0x03ff: 6.097555160522461e-05,
		0x0400: 6.103515625e-05, 0x3555: 0.333251953125, 0x7bff: 65504, 0xfc00: float32(math.Inf(-1))}
	for h, want := range checks {
		if got := F16ToF32(h); got != want {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

// TestConversionsMatchTorch compares against testdata/conversions.bin, made by
// gen_fixture.py with torch's Tensor.to(float16 / bfloat16).
func TestConversionsMatchTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/conversions.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw)%8 != 0 || len(raw) < 8000 {
		t.Fatalf("conversions.bin has %d bytes", len(raw))
	}
	bad := 0
	for i := 0; i < len(raw); i += 8 {
		x := math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))
		wantH := binary.LittleEndian.Uint16(raw[i+4:])
		wantB := binary.LittleEndian.Uint16(raw[i+6:])
		gotH, gotB := F32ToF16(x), F32ToBF16(x)
		if math.IsNaN(float64(x)) { // torch's NaN payloads differ by code path; require a NaN
			if !math.IsNaN(float64(F16ToF32(gotH))) || !math.IsNaN(float64(BF16ToF32(gotB))) {
				t.Errorf("NaN %#08x converted to non-NaN %#04x / %#04x", math.Float32bits(x), gotH, gotB)
			}
			continue
		}
		if gotH != wantH || gotB != wantB {
			if bad++; bad <= 10 {
				t.Errorf("x=%#08x (%g): f16 %#04x want %#04x, bf16 %#04x want %#04x",
					math.Float32bits(x), x, gotH, wantH, gotB, wantB)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d conversions differ from torch", bad, len(raw)/8)
	}
}

func TestDecodeOtherDTypes(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		d    DType
		raw  []byte
		want []float32
	}{
		{F64, le.AppendUint64(le.AppendUint64(nil, math.Float64bits(1.5)), math.Float64bits(-1e300)),
			[]float32{1.5, float32(math.Inf(-1))}},
		{I64, le.AppendUint64(nil, uint64(0xffffffffffffff85)), []float32{-123}},
		{U64, le.AppendUint64(nil, 1<<40), []float32{1 << 40}},
		{I32, le.AppendUint32(nil, 0xfffffffe), []float32{-2}},
		{U32, le.AppendUint32(nil, 0xfffffffe), []float32{4294967294}},
		{I16, le.AppendUint16(nil, 0x8000), []float32{-32768}},
		{U16, le.AppendUint16(nil, 0x8000), []float32{32768}},
		{I8, []byte{0xff, 0x7f}, []float32{-1, 127}},
		{U8, []byte{0xff, 0x7f}, []float32{255, 127}},
		{BOOL, []byte{0, 1, 2}, []float32{0, 1, 1}},
		{F8E5M2, []byte{0x3c, 0xc0, 0x7c, 0x01}, []float32{1, -2, float32(math.Inf(1)), 1.52587890625e-05}},
		{F8E4M3, []byte{0x38, 0xc0, 0x7e, 0x01}, []float32{1, -2, 448, 0.001953125}},
		{F8E8M0, []byte{127, 128, 0}, []float32{1, 2, float32(math.Ldexp(1, -127))}},
	}
	for _, c := range cases {
		got := make([]float32, len(c.want))
		if err := decode(got, c.raw, c.d); err != nil {
			t.Fatalf("%s: %v", c.d, err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s[%d] = %v, want %v", c.d, i, got[i], c.want[i])
			}
		}
	}
	if f := f8e4m3ToF32(0x7f); !math.IsNaN(float64(f)) {
		t.Errorf("F8_E4M3 0x7f = %v, want NaN", f)
	}
	if err := decode(make([]float32, 1), make([]byte, 8), C64); err == nil {
		t.Error("C64 decode succeeded, want error")
	}
}
