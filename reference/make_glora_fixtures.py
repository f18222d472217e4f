#!/usr/bin/python3
"""Generate the GLoRA layer's PyTorch reference fixture (testdata/ref/glora.safetensors).

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 reference/make_glora_fixtures.py

The layer is written from docs/DESIGN.md the way the reference code (ViT-Slim, GLoRA's
SuperScalableLinear) does it: every path read from the stored tensors by slicing
(prepare_path), W' and b' built in full, then one F.linear:

    W' = W0 + W0*A + B
    b' = b0 + b0*D + E + W0 @ C        (a layer without a bias: b' = E + W0 @ C)
    y  = x @ W'^T + b'

For each case it writes, under "<case>.": the input x (2, 3, in), the frozen weight (and bias),
the eight stored tensors with PEFT's names (glora_Ad … glora_E, random so that every path reads
something non-zero), a projection R, the output y, and grad.<name> for x and every stored
tensor of loss = sum(y * R) (zeros where the structure does not read a tensor). The metadata
holds each case's structure ("A=lora_4 B=vector C=none D=constant E=vector") and whether the
layer has a bias. Float32, seeded, one thread: reruns give identical bytes.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "ref")
NAMES = ["glora_Ad", "glora_Au", "glora_Bd", "glora_Bu", "glora_Cd", "glora_Cu", "glora_D", "glora_E"]

# (case, structure A B C D E, stored rank R, has bias)
CASES = [
    ("peft_default", "lora_4 lora_4 lora_4 constant constant", 4, True),
    ("sliced", "lora_2 lora_4 lora_2 vector vector", 4, True),
    ("vectors", "vector vector vector vector constant", 4, True),
    ("constants", "constant constant none constant constant", 4, True),
    ("mix_a_vector", "vector lora_2 lora_4 none vector", 4, True),
    ("mix_a_lora", "lora_4 vector vector constant none", 4, True),
    ("mix_a_constant", "constant lora_1 none vector none", 4, True),
    ("lora_only", "none lora_4 none none none", 4, True),
    ("rank1", "lora_1 constant lora_1 vector vector", 1, True),
    ("no_bias", "lora_2 vector none none none", 4, False),
    ("no_bias_added", "vector lora_4 lora_2 vector vector", 4, False),
]
OUT_F, IN_F = 12, 10


def prepare_path(config, Xd, Xu=None):
    """The reference code's reading of a stored tensor for one choice."""
    if Xu is not None:  # A, B (Xd: out×R, Xu: R×in) and C (Cd: in×R, Cu: R×1)
        if config.startswith("lora_"):
            r = int(config.split("_")[1])
            return Xd[:, :r] @ Xu[:r, :]
        if config == "vector":
            return Xd[:, 0].unsqueeze(1)
        if config == "constant":
            return Xd[0, 0]
        return torch.zeros(Xd.shape[0], Xu.shape[1])
    if config == "vector":  # D, E
        return Xd
    if config == "constant":
        return Xd[0]
    return torch.zeros(1)


def glora_linear(x, w0, b0, t, cfg):
    A = prepare_path(cfg["A"], t["glora_Ad"], t["glora_Au"])
    B = prepare_path(cfg["B"], t["glora_Bd"], t["glora_Bu"])
    C = prepare_path(cfg["C"], t["glora_Cd"], t["glora_Cu"])
    D = prepare_path(cfg["D"], t["glora_D"])
    E = prepare_path(cfg["E"], t["glora_E"])
    w = w0 + w0 * A + B
    b = (b0 + b0 * D + E) if b0 is not None else E
    b = b + (w0 @ C).squeeze(1)
    return F.linear(x, w, b)


def main():
    tensors, meta = {}, {"cases": ",".join(c[0] for c in CASES), "out": OUT_F, "in": IN_F}
    for name, structure, R, bias in CASES:
        cfg = dict(zip("ABCDE", structure.split()))
        w0 = torch.randn(OUT_F, IN_F) * 0.5
        b0 = torch.randn(OUT_F) * 0.5 if bias else None
        shapes = [(OUT_F, R), (R, IN_F), (OUT_F, R), (R, IN_F), (IN_F, R), (R, 1), (OUT_F,), (OUT_F,)]
        t = {n: (torch.randn(*s) * 0.4).requires_grad_(True) for n, s in zip(NAMES, shapes)}
        x = torch.randn(2, 3, IN_F).requires_grad_(True)
        proj = torch.randn(2, 3, OUT_F)
        y = glora_linear(x, w0, b0, t, cfg)
        (y * proj).sum().backward()
        p = name + "."
        tensors[p + "x"], tensors[p + "weight"], tensors[p + "R"], tensors[p + "y"] = x, w0, proj, y
        if bias:
            tensors[p + "bias"] = b0
        tensors[p + "grad.x"] = x.grad
        for n in NAMES:
            tensors[p + n] = t[n]
            tensors[p + "grad." + n] = t[n].grad if t[n].grad is not None else torch.zeros_like(t[n])
        meta["structure." + name] = " ".join("%s=%s" % (s, cfg[s]) for s in "ABCDE")
        meta["rank." + name] = R
        meta["bias." + name] = int(bias)
    st_writer.save(os.path.join(OUT, "glora.safetensors"), tensors, meta, root=ROOT)


if __name__ == "__main__":
    main()
