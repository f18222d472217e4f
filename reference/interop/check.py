"""Interoperability check of glora's checkpoints with timm and transformers.

Needs torch, timm, transformers, safetensors (the GPU machine has them; runs on CPU).
  python3 reference/interop/check.py GLORA_INTEROP_BINARY WORKDIR
1. glora → Python: glora saves a ViT in timm's and transformers' dialects (and
   the shipped backbone); timm and transformers load them; logits must match glora's.
2. Python → glora: timm and transformers save their own ViTs; glora loads them;
   logits must match theirs.
Prints one line per check with the max-abs-diff, and a JSON summary.
"""
import json, os, subprocess, sys

import torch
from safetensors.torch import load_file, save_file

binary, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
results = {}


def report(name, a, b, tol=1e-4):
    d = (a - b).abs().max().item()
    ok = d <= tol
    results[name] = {"max_abs_diff": d, "ok": ok}
    print(f"{'OK ' if ok else 'BAD'} {name:<40} max-abs-diff {d:.3e}", flush=True)


def timm_from_dir(d):
    import timm
    try:
        return timm.create_model("local-dir:" + d, pretrained=True).eval()
    except Exception as e:  # older timm: build from config.json by hand
        print("  (local-dir: failed:", repr(e)[:120], "; building from config.json)")
        cfg = json.load(open(os.path.join(d, "config.json")))
        m = timm.create_model(cfg["architecture"], pretrained=False, num_classes=cfg["num_classes"],
                              **cfg.get("model_args", {}))
        m.load_state_dict(load_file(os.path.join(d, "model.safetensors")))
        return m.eval()


# 1. glora → timm / transformers
subprocess.run([binary, "export", work], check=True)
inp = load_file(os.path.join(work, "input.safetensors"))
ref = load_file(os.path.join(work, "glora_logits.safetensors"))
with torch.no_grad():
    try:
        report("glora timm dialect → timm", timm_from_dir(os.path.join(work, "timm"))(inp["x"]), ref["small"])
    except Exception as e:
        results["glora timm dialect → timm"] = {"error": repr(e)}; print("BAD timm load:", repr(e))
    try:
        from transformers import ViTForImageClassification
        hf = ViTForImageClassification.from_pretrained(os.path.join(work, "hf")).eval()
        report("glora transformers dialect → transformers", hf(pixel_values=inp["x"]).logits, ref["small"])
    except Exception as e:
        results["glora transformers dialect → transformers"] = {"error": repr(e)}; print("BAD transformers load:", repr(e))
    try:
        report("shipped backbone → timm", timm_from_dir(os.path.join(work, "backbone"))(inp["x_backbone"]), ref["backbone"])
    except Exception as e:
        results["shipped backbone → timm"] = {"error": repr(e)}; print("BAD backbone load:", repr(e))

# 2. timm / transformers → glora
x = torch.randn(3, 3, 224, 224)
save_file({"x": x}, os.path.join(work, "x224.safetensors"))
with torch.no_grad():
    try:
        import timm
        m = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=7).eval()
        d = os.path.join(work, "from_timm")
        timm.models.save_for_hf(m, d, safe_serialization=True) if hasattr(timm.models, "save_for_hf") else \
            __import__("timm.models._hub", fromlist=["save_for_hf"]).save_for_hf(m, d, safe_serialization=True)
        want = m(x)
        subprocess.run([binary, "logits", d, os.path.join(work, "x224.safetensors"), os.path.join(work, "got_timm.safetensors")], check=True)
        report("timm vit_tiny_patch16_224 → glora", load_file(os.path.join(work, "got_timm.safetensors"))["logits"], want)
    except Exception as e:
        results["timm → glora"] = {"error": repr(e)}; print("BAD timm → glora:", repr(e))
    try:
        from transformers import ViTConfig, ViTForImageClassification
        cfg = ViTConfig(hidden_size=192, num_hidden_layers=4, num_attention_heads=3, intermediate_size=768, num_labels=7)
        hf = ViTForImageClassification(cfg).eval()
        d = os.path.join(work, "from_hf")
        hf.save_pretrained(d, safe_serialization=True)
        want = hf(pixel_values=x).logits
        subprocess.run([binary, "logits", d, os.path.join(work, "x224.safetensors"), os.path.join(work, "got_hf.safetensors")], check=True)
        report("transformers ViTForImageClassification → glora", load_file(os.path.join(work, "got_hf.safetensors"))["logits"], want)
    except Exception as e:
        results["transformers → glora"] = {"error": repr(e)}; print("BAD transformers → glora:", repr(e))

import timm, transformers
print(json.dumps({"torch": torch.__version__, "timm": timm.__version__, "transformers": transformers.__version__, "results": results}))
