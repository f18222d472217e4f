#!/usr/bin/python3
"""Load glora's shipped backbone (or any timm-dialect folder glora wrote) in
PyTorch and evaluate it on Fashion-MNIST's test split, then ask glora for
the same number: the two must agree image for image on the count.

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 reference/check_backbone.py [MODEL_DIR]

MODEL_DIR defaults to backbones/vit-fmnist. timm is not installed here, so
the model is the hand-written copy of timm's VisionTransformer in
train_vit_mnist.py (same parameter names and math); the weights are read by
a small safetensors reader below (F32, F16, BF16), strictly: a missing or
unexpected tensor is an error. The data is read from Debian's
dataset-fashion-mnist, or $GLORA_FASHION_MNIST_DIR. The config's mean/std
normalise the 28×28 images (no resize: the backbone's input is 28×28).

Prints torch's accuracy and correct count, glora's (`glora eval --json`),
the max-abs-diff of the two losses, and exits 1 if the counts differ.
"""
import json
import os
import struct
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_vit_mnist as ref  # noqa: E402  (sets one thread, seed 0)

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """A strict, minimal safetensors reader: name → float32 tensor."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if t["dtype"] not in DTYPES:
            sys.exit("%s: tensor %s has dtype %s" % (path, name, t["dtype"]))
        lo, hi = t["data_offsets"]
        buf = bytearray(data[lo:hi])
        out[name] = torch.frombuffer(buf, dtype=DTYPES[t["dtype"]]).reshape(t["shape"]).float()
    return out


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ref.ROOT, "backbones", "vit-fmnist")
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if "model_args" not in cfg:
        sys.exit("%s/config.json: not timm's dialect (no model_args)" % model_dir)
    a = cfg["model_args"]
    if a.get("img_size") != 28 or a.get("in_chans") != 1:
        sys.exit("%s: this check evaluates 1×28×28 models, not %s×%s" % (model_dir, a.get("in_chans"), a.get("img_size")))
    model = ref.VisionTransformer(a["img_size"], a["patch_size"], a["in_chans"], a["embed_dim"], a["depth"],
                                  a["num_heads"], a["mlp_ratio"], a.get("qkv_bias", True), cfg["num_classes"])
    model.load_state_dict(read_safetensors(os.path.join(model_dir, "model.safetensors")), strict=True)
    model.eval()

    d = os.environ.get("GLORA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    x, y = ref.load_split(d, "t10k")
    mean, std = cfg["pretrained_cfg"]["mean"][0], cfg["pretrained_cfg"]["std"][0]
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(y), 500):
            xb = ((x[i:i + 500].float() / 255.0 - mean) / std).unsqueeze(1)
            logits = model(xb)
            correct += int((logits.argmax(1) == y[i:i + 500]).sum())
            loss += float(torch.nn.functional.cross_entropy(logits, y[i:i + 500], reduction="sum"))
    n = len(y)
    print("torch %s: accuracy %.4f (%d/%d), loss %.6f" % (torch.__version__, correct / n, correct, n, loss / n))

    out = subprocess.check_output(["go", "run", "./cmd/glora", "eval", "--model", model_dir, "--data", "fashion-mnist",
                                   "--split", "test", "--json"], cwd=ref.ROOT, text=True)
    g = json.loads(out.strip().splitlines()[-1])
    print("glora:       accuracy %.4f (%d/%d), loss %.6f" % (g["accuracy"], g["correct"], g["n"], g["loss"]))
    print("loss max-abs-diff %.2e" % abs(g["loss"] - loss / n))
    if g["correct"] != correct or g["n"] != n:
        print("MISMATCH: torch and glora disagree on the count")
        sys.exit(1)
    print("match")


if __name__ == "__main__":
    main()
