#!/usr/bin/python3
"""Load a Hugging Face Llama folder that glora wrote (default: the shipped
language model, backbones/lm-fortune) into the PyTorch LLaMA of
make_llama_fixtures.py, decode greedily from glora's tokens of a prompt, and
require the same tokens as `glora generate --temperature 0`.

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 reference/check_llama.py [MODEL_DIR] [PROMPT]

The weights are read strictly (a missing or unexpected tensor is an error;
F32, F16 and BF16 are widened to float32). Prints both token lists, the
smallest gap between the two best logits along the way, and exits 1 if the
tokens differ.
"""
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_llama_fixtures as ref  # noqa: E402
from check_backbone import read_safetensors  # noqa: E402


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ref.ROOT, "backbones", "lm-fortune")
    prompt = sys.argv[2] if len(sys.argv) > 2 else "The best way to"
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = ref.Llama(cfg)
    tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    want = {k.replace("|", ".") for k in model.p.keys()}
    if set(tensors) != want:
        sys.exit("tensor names differ: missing %s, unexpected %s" % (sorted(want - set(tensors))[:3], sorted(set(tensors) - want)[:3]))
    for k, v in tensors.items():
        model.p[k.replace(".", "|")].data.copy_(v)
    n = 48
    out = subprocess.run(["go", "run", "./cmd/glora", "generate", "--model", model_dir, "--prompt", prompt,
                          "--temperature", "0", "--max-tokens", str(n), "--json"],
                         cwd=ref.ROOT, check=True, capture_output=True, text=True)
    g = json.loads(out.stdout)
    seq, gaps = list(g["prompt_tokens"]), []
    with torch.no_grad():
        while len(seq) < len(g["prompt_tokens"]) + len(g["tokens"]):
            logits = model(torch.tensor([seq]))[0, -1]
            top = logits.topk(2).values
            gaps.append((top[0] - top[1]).item())
            seq.append(int(logits.argmax()))
    torch_tokens = seq[len(g["prompt_tokens"]):]
    print("glora :", g["tokens"])
    print("torch :", torch_tokens)
    print("glora's text: %r; smallest top-2 logit gap in torch: %.4f" % (g["text"], min(gaps)))
    if torch_tokens != g["tokens"]:
        sys.exit("the tokens differ")
    print("same %d tokens" % len(torch_tokens))


if __name__ == "__main__":
    main()
