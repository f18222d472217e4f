"""Generates the test fixtures with PyTorch (run: /usr/bin/python3 gen_fixture.py).

The `safetensors` Python package is not installed here, so fixture.safetensors
is serialized by hand following the reference implementation
(safetensors/src/tensor.rs `prepare`): tensors sorted by descending dtype rank
then name, compact JSON with "__metadata__" first, header padded with spaces
to a multiple of 8. The tensor bytes (including the f32->f16/bf16 rounding)
come from torch.

conversions.bin holds records of (u32 f32 bits, u16 torch f16 bits,
u16 torch bf16 bits), little-endian, for edge cases and random inputs.
"""
import json
import struct

import numpy as np
import torch

RANK = {"BOOL": 0, "U8": 4, "I8": 5, "I16": 9, "U16": 10, "F16": 11, "BF16": 12,
        "I32": 13, "U32": 14, "F32": 15, "F64": 17, "I64": 18, "U64": 19}
NAME = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def raw(t):
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().tobytes()
    return t.contiguous().numpy().tobytes()


def serialize(tensors, metadata=None):
    items = sorted(tensors.items(), key=lambda kv: (-RANK[NAME[kv[1].dtype]], kv[0].encode()))
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off, blobs = 0, []
    for name, t in items:
        b = raw(t)
        header[name] = {"dtype": NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


f32 = torch.float32
tensors = {
    "model.w": torch.tensor([[0.0, 1.0, -2.5], [3.1415927, 1e-40, -0.0]], dtype=f32),
    "model.b": torch.tensor([0.1, -1 / 3, 65504.0, 1e30], dtype=f32).to(torch.bfloat16),
    "emb": torch.tensor([[0.1, -1 / 3], [6e-8, 70000.0]], dtype=f32).to(torch.float16),
    "scalar": torch.tensor(42.0, dtype=f32),
    "empty": torch.zeros((0, 3), dtype=torch.float16),
    "h\u00e9llo": torch.tensor([1.5, -7.25], dtype=f32).to(torch.bfloat16),
}
with open("fixture.safetensors", "wb") as f:
    f.write(serialize(tensors, {"format": "pt"}))

edges = [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F7FFFFF, 0x00000001, 0x00800000,
         0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x33000000, 0x33000001, 0x337FFFFF,
         0x33800000, 0x38800000, 0x387FE000, 0x387FF000, 0x3F801000, 0x3F803000, 0x3F808000,
         0x3F818000, 0x3F800001, 0x3F807FFF, 0x7F7F8000, 0xBF808000, 0x3DCCCCCD]
rng = np.random.RandomState(0)
rand = rng.randint(0, 2**32, size=4096, dtype=np.uint64).astype(np.uint32)
# Exponents around the f16 range (2^-26 .. 2^17), random sign and mantissa.
exp = rng.randint(101, 144, size=8192).astype(np.uint32)
mant = rng.randint(0, 1 << 23, size=8192).astype(np.uint32)
sign = rng.randint(0, 2, size=8192).astype(np.uint32)
near = (sign << 31) | (exp << 23) | mant
# Exact ties for f16 and bf16 rounding.
ties16 = ((exp[:1024] << 23) | (mant[:1024] & ~np.uint32(0x1FFF)) | 0x1000).astype(np.uint32)
tiesbf = ((exp[:1024] << 23) | (mant[:1024] & ~np.uint32(0xFFFF)) | 0x8000).astype(np.uint32)
bits = np.concatenate([np.array(edges, dtype=np.uint32), rand, near, ties16, tiesbf])
x = torch.from_numpy(bits.view(np.float32).copy())
h = x.to(torch.float16).view(torch.int16).numpy().view(np.uint16)
bf = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
rec = np.zeros(len(bits), dtype=[("x", "<u4"), ("h", "<u2"), ("bf", "<u2")])
rec["x"], rec["h"], rec["bf"] = bits, h, bf
with open("conversions.bin", "wb") as f:
    f.write(rec.tobytes())
print("fixture", len(serialize(tensors, {"format": "pt"})), "bytes;", len(bits), "conversion records")
