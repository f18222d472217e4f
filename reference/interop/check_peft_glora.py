"""Interoperability of glora's adapter folders with PEFT's GLoRA tuner (not run by go test).

Needs torch, timm, safetensors and a PEFT that has the GLoRA tuner (the open pull request
huggingface/peft #3098, revision with glora_Ad … glora_E parameters; see method/glora/adapter_config.go).
  go build -o /tmp/glora ./cmd/glora && go build -o /tmp/interop ./reference/interop
  python3 reference/interop/check_peft_glora.py /tmp/glora /tmp/interop BASE_DIR ADAPTER_DIR WORKDIR
BASE_DIR: a timm-dialect model folder; ADAPTER_DIR: a glora adapter for it whose structure is the same
for every layer (config_A_B / config_C / config_D_E not null).
1. glora → PEFT: timm loads BASE_DIR, PEFT applies ADAPTER_DIR; its logits must equal those of the
   folder `glora merge` writes (PEFT's forward, not its merge: PEFT's merge adds W·C after updating W,
   the bug docs/DESIGN.md §4 warns about).
2. PEFT → glora: PEFT wraps a fresh copy of the base (r 4, LoRA/LoRA/constant, head saved), random
   support tensors, save_pretrained; `glora merge` of that folder must give PEFT's logits.
Prints one line per check with the max-abs-diff; exits 1 if any fails.
"""
import json, os, subprocess, sys

import peft
import timm
import torch
from safetensors.torch import load_file, save_file

glora_bin, interop_bin, base_dir, adapter_dir, work = sys.argv[1:6]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
GLoraConfig = getattr(peft, "GLoraConfig", None) or getattr(peft, "GloraConfig")
failed = False


def timm_base():
    cfg = json.load(open(os.path.join(base_dir, "config.json")))
    m = timm.create_model(cfg["architecture"], pretrained=False, num_classes=cfg["num_classes"], **cfg.get("model_args", {}))
    m.load_state_dict(load_file(os.path.join(base_dir, "model.safetensors")))
    return m.eval(), cfg["pretrained_cfg"]["input_size"]


def fix_eval_config(model, conf):
    # Some revisions of the tuner leave eval_config unset (a random path per forward): pin PEFT's one config.
    one = {"A": conf.config_A_B, "B": conf.config_A_B, "C": conf.config_C, "D": conf.config_D_E, "E": conf.config_D_E}
    for mod in model.modules():
        if hasattr(mod, "glora_Ad") and hasattr(mod, "eval_config"):
            if mod.eval_config is None:
                mod.eval_config = one
            elif isinstance(mod.eval_config, dict) and "A" not in mod.eval_config:
                for k in list(mod.eval_config) or ["default"]:
                    mod.eval_config[k] = one


def glora_logits(adapter, name, x):
    out = os.path.join(work, name)
    subprocess.run([glora_bin, "merge", "--base", base_dir, "--adapter", adapter, "--out", out, "--overwrite"], check=True)
    save_file({"x": x.contiguous()}, os.path.join(work, "x.safetensors"))
    subprocess.run([interop_bin, "logits", out, os.path.join(work, "x.safetensors"), os.path.join(work, name + ".logits")], check=True)
    return load_file(os.path.join(work, name + ".logits"))["logits"]


def report(name, a, b, tol=1e-4):
    global failed
    d = (a - b).abs().max().item()
    failed |= not d <= tol
    print(f"{'OK ' if d <= tol else 'BAD'} {name:<32} max-abs-diff {d:.3e}", flush=True)


# 1. glora → PEFT
base, input_size = timm_base()
x = torch.randn(4, *input_size)
pm = peft.PeftModel.from_pretrained(base, adapter_dir).eval()
fix_eval_config(pm, pm.peft_config["default"])
with torch.no_grad():
    report("glora adapter → PEFT", pm(x), glora_logits(adapter_dir, "merged_glora", x))

# 2. PEFT → glora
base2, _ = timm_base()
conf = GLoraConfig(r=4, target_modules=r"blocks\.\d+\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)",
                   config_A_B="LoRA", config_C="LoRA", config_D_E="constant", modules_to_save=["head"])
pm2 = peft.get_peft_model(base2, conf)
with torch.no_grad():
    for n, p in pm2.named_parameters():
        if "glora_" in n or "modules_to_save" in n:
            p.copy_(torch.randn_like(p) * 0.05)
pm2.eval()
fix_eval_config(pm2, pm2.peft_config["default"])
peft_dir = os.path.join(work, "peft_adapter")
pm2.save_pretrained(peft_dir)
with torch.no_grad():
    report("PEFT adapter → glora merge", glora_logits(peft_dir, "merged_peft", x), pm2(x))
sys.exit(1 if failed else 0)
