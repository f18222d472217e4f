package tensor

// BF16CPU reports this CPU's bfloat16 instructions (none off amd64 or in
// the purego build).
func BF16CPU() BF16Features { return bf16CPUImpl() }

// String lists the features, e.g. "avx512-bf16 amx-bf16", or "none".
func (f BF16Features) String() string {
	switch {
	case f.AVX512BF16 && f.AMXBF16:
		return "avx512-bf16 amx-bf16"
	case f.AVX512BF16:
		return "avx512-bf16"
	case f.AMXBF16:
		return "amx-bf16"
	}
	return "none"
}
