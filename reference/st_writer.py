"""A minimal safetensors writer for the reference scripts (the `safetensors`
Python package is not among Debian's). Tensors are written sorted by name,
uint8 ones as U8 and everything else as F32, with the header padded to a
multiple of 8 bytes."""
import json
import os
import struct

import torch


def save(path, tensors, metadata=None, root=None):
    """Write {name: tensor} to path; print its size relative to root."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.uint8:
            dtype, data = "U8", bytes(t.reshape(-1).tolist())
        else:
            t = t.to(torch.float32)
            dtype, data = "F32", struct.pack("<%df" % t.numel(), *t.reshape(-1).tolist())
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    shown = os.path.relpath(path, root) if root else path
    print("wrote %s (%d bytes, %d tensors)" % (shown, 8 + len(h) + off, len(tensors)))
