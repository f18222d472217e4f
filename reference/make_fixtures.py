#!/usr/bin/python3
"""Generate glora's PyTorch reference fixtures (testdata/ref/*.safetensors).

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 reference/make_fixtures.py

Writes
  testdata/ref/block.safetensors  one timm ViT pre-norm Block: inputs, weights
                                  (timm names), output and gradients
  testdata/ref/adamw.safetensors  AdamW + clip_grad_norm_, SGD (momentum,
                                  Nesterov), cosine-with-warm-up schedule values

Everything is float32, seeded, single-threaded, so reruns give the same bytes.
Safetensors are written by a small writer below (the `safetensors` package is
not needed): 8-byte little-endian header length, JSON header padded with
spaces to a multiple of 8, then raw little-endian float32 data.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "ref")


def save(path, tensors, metadata=None):
    st_writer.save(path, tensors, metadata, root=ROOT)


def rnd(*shape, scale=1.0):
    return torch.randn(*shape) * scale


# ---------------------------------------------------------------- (a) block
def block_fixture():
    B, T, C, H, M, eps = 2, 5, 16, 2, 32, 1e-6
    D = C // H
    w = {
        "norm1.weight": 1 + rnd(C, scale=0.2),
        "norm1.bias": rnd(C, scale=0.1),
        "attn.qkv.weight": rnd(3 * C, C, scale=C ** -0.5),
        "attn.qkv.bias": rnd(3 * C, scale=0.1),
        "attn.proj.weight": rnd(C, C, scale=C ** -0.5),
        "attn.proj.bias": rnd(C, scale=0.1),
        "norm2.weight": 1 + rnd(C, scale=0.2),
        "norm2.bias": rnd(C, scale=0.1),
        "mlp.fc1.weight": rnd(M, C, scale=C ** -0.5),
        "mlp.fc1.bias": rnd(M, scale=0.1),
        "mlp.fc2.weight": rnd(C, M, scale=M ** -0.5),
        "mlp.fc2.bias": rnd(C, scale=0.1),
    }
    for t in w.values():
        t.requires_grad_(True)
    x = rnd(B, T, C).requires_grad_(True)
    R = rnd(B, T, C)

    # timm.models.vision_transformer.Block / Attention, written out.
    h = F.layer_norm(x, (C,), w["norm1.weight"], w["norm1.bias"], eps)
    qkv = F.linear(h, w["attn.qkv.weight"], w["attn.qkv.bias"])
    qkv = qkv.reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4)  # (3,B,H,T,D)
    q, k, v = qkv.unbind(0)
    attn = (q @ k.transpose(-2, -1)) * D ** -0.5
    attn = attn.softmax(dim=-1)
    a = (attn @ v).transpose(1, 2).reshape(B, T, C)
    a = F.linear(a, w["attn.proj.weight"], w["attn.proj.bias"])
    x1 = x + a
    h2 = F.layer_norm(x1, (C,), w["norm2.weight"], w["norm2.bias"], eps)
    m = F.gelu(F.linear(h2, w["mlp.fc1.weight"], w["mlp.fc1.bias"]))  # erf GELU
    out = x1 + F.linear(m, w["mlp.fc2.weight"], w["mlp.fc2.bias"])
    loss = (out * R).sum()
    loss.backward()

    t = {"x": x, "R": R, "out": out, "grad.x": x.grad}
    for k, p in w.items():
        t[k] = p
        t["grad." + k] = p.grad
    save(os.path.join(OUT, "block.safetensors"), t,
         {"B": B, "T": T, "C": C, "heads": H, "mlp": M, "eps": eps, "loss": repr(loss.item()),
          "torch": torch.__version__})


# ----------------------------------------------------- (b) optimisers, schedule
def cosine_lr(step, peak, lo, start, warmup, total):
    """The formula documented on optim.Cosine (timm CosineLRScheduler, warmup_prefix=True)."""
    step = max(step, 0)
    if step < warmup:
        return start + (peak - start) * step / warmup
    if step >= total:
        return lo
    p = (step - warmup) / (total - warmup)
    return lo + 0.5 * (peak - lo) * (1 + math.cos(math.pi * p))


def optim_fixture():
    STEPS = 5
    t = {}

    def params():
        return {"w": rnd(4, 3).requires_grad_(True), "b": rnd(3).requires_grad_(True)}

    def run(prefix, p, opt, clip):
        tgt = {k: rnd(*v.shape) for k, v in p.items()}
        for k, v in p.items():
            t["%s.init.%s" % (prefix, k)] = v.detach().clone()
        for s in range(STEPS):
            opt.zero_grad()
            # quadratic loss with a step-dependent scale and a fixed random linear term,
            # so the gradient norm crosses the clipping threshold on some steps only
            scale = [3.0, 0.2, 1.5, 0.05, 0.8][s]
            loss = sum(0.5 * scale * ((v - tgt[k]) ** 2).sum() + (v * rnd(*v.shape, scale=0.1 * scale)).sum()
                       for k, v in p.items())
            loss.backward()
            for k, v in p.items():
                t["%s.grad.%d.%s" % (prefix, s, k)] = v.grad.detach().clone()
            if clip:
                n = torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
                t["%s.norm.%d" % (prefix, s)] = n.reshape(1)
                for k, v in p.items():
                    t["%s.clipped.%d.%s" % (prefix, s, k)] = v.grad.detach().clone()
            opt.step()
            for k, v in p.items():
                t["%s.param.%d.%s" % (prefix, s, k)] = v.detach().clone()
        return opt

    # AdamW: decay 0.05 on w, none on b; clip_grad_norm_(1.0) before each step.
    p = params()
    opt = torch.optim.AdamW([{"params": [p["w"]], "weight_decay": 0.05},
                             {"params": [p["b"]], "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    run("adamw", p, opt, clip=True)
    for k, v in p.items():
        st = opt.state[v]
        t["adamw.state.%s.exp_avg" % k] = st["exp_avg"]
        t["adamw.state.%s.exp_avg_sq" % k] = st["exp_avg_sq"]

    # SGD with momentum 0.9, decay 0.01 on w; and the Nesterov variant.
    for prefix, nest in (("sgd", False), ("nesterov", True)):
        p = params()
        opt = torch.optim.SGD([{"params": [p["w"]], "weight_decay": 0.01},
                               {"params": [p["b"]], "weight_decay": 0.0}],
                              lr=0.1, momentum=0.9, nesterov=nest)
        run(prefix, p, opt, clip=False)

    # Cosine schedule: peak 1e-3, min 1e-5, warm-up from 1e-6 over 5 of 20 steps.
    steps = [0, 1, 4, 5, 6, 10, 12, 19, 20, 25]
    t["cosine.step"] = torch.tensor(steps, dtype=torch.float32)
    t["cosine.lr"] = torch.tensor([cosine_lr(s, 1e-3, 1e-5, 1e-6, 5, 20) for s in steps], dtype=torch.float32)

    save(os.path.join(OUT, "adamw.safetensors"), t,
         {"steps": STEPS, "adamw": "lr=1e-2 betas=(0.9,0.999) eps=1e-8 wd(w)=0.05 wd(b)=0 clip=1.0",
          "sgd": "lr=0.1 momentum=0.9 wd(w)=0.01 wd(b)=0", "nesterov": "as sgd with nesterov=True",
          "cosine": "peak=1e-3 min=1e-5 warmup_start=1e-6 warmup=5 total=20",
          "torch": torch.__version__})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    block_fixture()
    optim_fixture()
    sys.exit(0)
