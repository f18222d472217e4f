#!/usr/bin/python3
"""Generate the LLaMA decoder's parity fixtures (testdata/ref/llama/).

Run from the repository root with Debian's torch (1.13):

    /usr/bin/python3 reference/make_llama_fixtures.py

A LLaMA written out below in plain PyTorch, in Hugging Face's conventions
(LlamaForCausalLM: RMSNorm with the weight applied after normalising in
float32, rotate_half rotary embeddings, grouped-query attention with a causal
mask, SwiGLU MLP, biases only with attention_bias / mlp_bias, optionally
tied embeddings). Writes

  random-{tied,untied}/   a random grouped-query model (4 query heads, 2
      key/value heads, head size 8, 2 layers, vocabulary 48) as a Hugging
      Face folder (config.json + model.safetensors), the tied one also in
      llama2.c's checkpoint format (model.bin; the untied one has a
      rope_theta of 500, which that format cannot hold), and
      expected.safetensors:
      ids (2, 7), R, logits (2, 7, 48) and grad.<name> of loss = sum(logits*R)
      for every parameter.
  random-biased/   the untied model with attention_bias and mlp_bias (every
      projection has a random bias), as above.
  trained/   a small model trained here for a few seconds on a repeating
      pattern, in both formats (and llama2.c's version-1 and version-2
      files, model-v1.bin and model-v2.bin; expected-q80.safetensors holds
      the logits of the version-2 file's dequantized weights), and
      expected.json: the greedy continuation
      of a prompt (argmax each step, recomputing the whole sequence) and the
      smallest gap between the two best logits along the way.

Everything is float32, seeded, single-threaded: reruns give the same bytes.
"""
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_writer  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "ref", "llama")


class Llama(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        V, D, F = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
        H, K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        hd = D // H
        self.p = torch.nn.ParameterDict()
        P = lambda name, *shape: self.p.__setitem__(name.replace(".", "|"), torch.nn.Parameter(torch.empty(*shape)))
        P("model.embed_tokens.weight", V, D)
        for i in range(cfg["num_hidden_layers"]):
            pre = "model.layers.%d." % i
            P(pre + "input_layernorm.weight", D)
            P(pre + "self_attn.q_proj.weight", H * hd, D)
            P(pre + "self_attn.k_proj.weight", K * hd, D)
            P(pre + "self_attn.v_proj.weight", K * hd, D)
            P(pre + "self_attn.o_proj.weight", D, H * hd)
            P(pre + "post_attention_layernorm.weight", D)
            P(pre + "mlp.gate_proj.weight", F, D)
            P(pre + "mlp.up_proj.weight", F, D)
            P(pre + "mlp.down_proj.weight", D, F)
            for proj, n in (("q", H * hd), ("k", K * hd), ("v", K * hd), ("o", D)):
                if cfg.get("attention_bias"):
                    P(pre + "self_attn.%s_proj.bias" % proj, n)
            for proj, n in (("gate", F), ("up", F), ("down", D)):
                if cfg.get("mlp_bias"):
                    P(pre + "mlp.%s_proj.bias" % proj, n)
        P("model.norm.weight", D)
        if not cfg["tie_word_embeddings"]:
            P("lm_head.weight", V, D)

    def w(self, name):
        return self.p[name.replace(".", "|")]

    def named(self):
        return {k.replace("|", "."): v for k, v in self.p.items()}

    def lin(self, x, name):  # x·Wᵀ (+ b where the config gives the layer a bias)
        y = x @ self.w(name + ".weight").t()
        b = name.replace(".", "|") + "|bias"
        return y + self.p[b] if b in self.p else y

    def rms(self, x, w):
        eps = self.cfg["rms_norm_eps"]
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def rope(self, x):  # x: (B, n, T, hd), rotate_half convention
        T, hd = x.shape[2], x.shape[3]
        theta = self.cfg["rope_theta"]
        pos = torch.arange(T, dtype=torch.float64)[:, None]
        inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = pos * inv[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], -1).to(torch.float32)
        sin = torch.cat([ang.sin(), ang.sin()], -1).to(torch.float32)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, ids):
        cfg = self.cfg
        B, T = ids.shape
        H, K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        hd = cfg["hidden_size"] // H
        x = self.w("model.embed_tokens.weight")[ids]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for i in range(cfg["num_hidden_layers"]):
            pre = "model.layers.%d." % i
            h = self.rms(x, self.w(pre + "input_layernorm.weight"))
            q = self.lin(h, pre + "self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
            k = self.lin(h, pre + "self_attn.k_proj").view(B, T, K, hd).transpose(1, 2)
            v = self.lin(h, pre + "self_attn.v_proj").view(B, T, K, hd).transpose(1, 2)
            q, k = self.rope(q), self.rope(k)
            k = k.repeat_interleave(H // K, dim=1)
            v = v.repeat_interleave(H // K, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
            x = x + self.lin(a, pre + "self_attn.o_proj")
            h = self.rms(x, self.w(pre + "post_attention_layernorm.weight"))
            g = torch.nn.functional.silu(self.lin(h, pre + "mlp.gate_proj"))
            u = self.lin(h, pre + "mlp.up_proj")
            x = x + self.lin(g * u, pre + "mlp.down_proj")
        x = self.rms(x, self.w("model.norm.weight"))
        head = self.w("model.embed_tokens.weight") if cfg["tie_word_embeddings"] else self.w("lm_head.weight")
        return x @ head.t()


def config(V, D, F, L, H, K, seq, tied, eps=1e-5, theta=10000.0, bias=False):
    return {"attention_bias": bias, "mlp_bias": bias,
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "vocab_size": V, "hidden_size": D, "intermediate_size": F, "num_hidden_layers": L,
        "num_attention_heads": H, "num_key_value_heads": K, "max_position_embeddings": seq,
        "rms_norm_eps": eps, "rope_theta": theta, "tie_word_embeddings": tied,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
    }


def meta_order(w, heads):
    """HF q/k rows (rotate_half pairs i, i+hd/2) → Meta/llama2.c rows
    (interleaved pairs 2i, 2i+1): llama2.c export.py's permute_reverse."""
    d1, d2 = w.shape
    return w.view(heads, 2, d1 // heads // 2, d2).transpose(1, 2).reshape(d1, d2)


def save_llama2c(path, model):
    """llama2.c's legacy (version 0) checkpoint, as its export.py writes it."""
    cfg, w = model.cfg, model.named()
    L, H, K = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg["hidden_size"]
    hd = D // H
    tied = cfg["tie_word_embeddings"]
    V = cfg["vocab_size"] if tied else -cfg["vocab_size"]
    seq = cfg["max_position_embeddings"]
    out = [struct.pack("<7i", D, cfg["intermediate_size"], L, H, K, V, seq)]
    f32 = lambda t: struct.pack("<%df" % t.numel(), *t.detach().reshape(-1).tolist())
    out.append(f32(w["model.embed_tokens.weight"]))
    per = lambda name: [w["model.layers.%d.%s" % (i, name)] for i in range(L)]
    for t in per("input_layernorm.weight"):
        out.append(f32(t))
    for t in per("self_attn.q_proj.weight"):
        out.append(f32(meta_order(t, H)))
    for t in per("self_attn.k_proj.weight"):
        out.append(f32(meta_order(t, K)))
    for name in ["self_attn.v_proj.weight", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                 "mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight"]:
        for t in per(name):
            out.append(f32(t))
    out.append(f32(w["model.norm.weight"]))
    inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2)[: hd // 2].float() / hd))
    freqs = torch.outer(torch.arange(seq).float(), inv)
    out.append(f32(freqs.cos()))
    out.append(f32(freqs.sin()))
    if not tied:
        out.append(f32(w["lm_head.weight"]))
    with open(path, "wb") as f:
        f.write(b"".join(out))
    print("wrote %s" % os.path.relpath(path, ROOT))


def save_hf(folder, model):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(model.cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    st_writer.save(os.path.join(folder, "model.safetensors"), model.named(), {"format": "pt"}, root=ROOT)
    if model.cfg["rope_theta"] == 10000.0 and model.cfg["rms_norm_eps"] == 1e-5:
        save_llama2c(os.path.join(folder, "model.bin"), model)


def random_fixture(tied, bias=False):
    # the untied model has a rope_theta llama2.c cannot hold: it tests
    # that glora reads theta from config.json (and gets no model.bin); the
    # biased one (attention_bias, mlp_bias: what a merged adapter that
    # tuned biases writes) has no model.bin either
    cfg = config(48, 32, 40, 2, 4, 2, 16, tied, eps=1e-5, theta=10000.0 if tied and not bias else 500.0, bias=bias)
    model = Llama(cfg)
    for name, p in model.named().items():
        with torch.no_grad():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.copy_(1 + 0.2 * torch.randn(p.shape))
            else:
                p.copy_(torch.randn(p.shape) * (p.shape[-1] ** -0.5 if p.dim() == 2 and "embed" not in name else 1.0))
    folder = os.path.join(OUT, "random-biased" if bias else "random-" + ("tied" if tied else "untied"))
    save_hf(folder, model)
    ids = torch.randint(0, 48, (2, 7))
    logits = model(ids)
    R = torch.randn(logits.shape)
    loss = (logits * R).sum()
    loss.backward()
    exp = {"ids": ids.to(torch.float32), "R": R, "logits": logits}
    for name, p in model.named().items():
        exp["grad." + name] = p.grad
    st_writer.save(os.path.join(folder, "expected.safetensors"), exp, {"loss": "%.9g" % loss.item()}, root=ROOT)


def trained_fixture():
    # A pattern with long-range structure: "<s> a b c … " cycles with a
    # period that depends on the first token, so the model must attend.
    cfg = config(32, 32, 64, 2, 4, 2, 64, False, eps=1e-5, theta=10000.0)
    model = Llama(cfg)
    for name, p in model.named().items():
        with torch.no_grad():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape) * 0.02)
    g = torch.Generator().manual_seed(1)

    def batch(n, T=48):
        rows = []
        for _ in range(n):
            period = int(torch.randint(3, 8, (1,), generator=g))
            base = torch.randint(3, 32, (period,), generator=g)
            rows.append(torch.cat([torch.tensor([1]), base.repeat(T // period + 1)[: T - 1]]))
        return torch.stack(rows)

    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.0)
    for step in range(1500):
        x = batch(16)
        logits = model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 32), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("trained: final loss %.4f" % loss.item())
    folder = os.path.join(OUT, "trained")
    save_hf(folder, model)
    prompt = [1, 7, 19, 4, 11, 7, 19, 4]
    seq, gaps = list(prompt), []
    with torch.no_grad():
        while len(seq) < 40:
            logits = model(torch.tensor([seq]))[0, -1]
            top = logits.topk(2).values
            gaps.append((top[0] - top[1]).item())
            seq.append(int(logits.argmax()))
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump({"prompt": prompt, "tokens": seq, "min_gap": min(gaps), "final_loss": loss.item()}, f, indent=1)
        f.write("\n")
    print("greedy:", seq, "min gap %.4f" % min(gaps))
    # llama2.c's versioned files of the same model, and the logits of its
    # Q8_0-dequantized weights (what a version-2 file holds)
    save_llama2c_versioned(os.path.join(folder, "model-v1.bin"), model, 1)
    deq = save_llama2c_versioned(os.path.join(folder, "model-v2.bin"), model, 2)
    ids = torch.tensor([prompt, [1, 4, 11, 22, 7, 4, 19, 11]])
    q = Llama(model.cfg)
    with torch.no_grad():
        for name, p in q.named().items():
            p.copy_(deq.get(name, model.named()[name]))
        st_writer.save(os.path.join(folder, "expected-q80.safetensors"),
                       {"ids": ids.to(torch.float32), "logits": q(ids)}, {}, root=ROOT)


def q80(w, group):
    """llama2.c's Q8_0: int8 in [-127, 127] and one float32 scale per group
    of values (value = int8 × scale); returns the bytes and the dequantized
    tensor."""
    g = w.detach().reshape(-1, group).float()
    scale = g.abs().max(dim=1).values / 127.0
    q = torch.round(g / scale[:, None]).to(torch.int8)
    deq = (q.float() * scale[:, None]).reshape(w.shape)
    data = struct.pack("<%db" % q.numel(), *q.reshape(-1).tolist())
    data += struct.pack("<%df" % scale.numel(), *scale.tolist())
    return data, deq


def save_llama2c_versioned(path, model, version, group=64):
    """llama2.c's version-1 (float32) or version-2 (Q8_0) checkpoint, as its
    export.py lays them out; returns the dequantized weights of version 2
    by HF name."""
    cfg, w = model.cfg, model.named()
    L, H, K = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg["hidden_size"]
    tied = cfg["tie_word_embeddings"]
    while D % group:
        group //= 2
    hdr = struct.pack("<Ii7iB", 0x616B3432, version, D, cfg["intermediate_size"], L, H, K,
                      cfg["vocab_size"], cfg["max_position_embeddings"], int(tied))
    if version == 2:
        hdr += struct.pack("<i", group)
    out = [hdr + b"\0" * (256 - len(hdr))]
    f32 = lambda t: struct.pack("<%df" % t.numel(), *t.detach().reshape(-1).tolist())
    per = lambda name: ["model.layers.%d.%s" % (i, name) for i in range(L)]
    for name in per("input_layernorm.weight") + per("post_attention_layernorm.weight") + ["model.norm.weight"]:
        out.append(f32(w[name]))
    mats = ["model.embed_tokens.weight"]
    for name in ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                 "mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight"]:
        mats += per(name)
    if not tied:
        mats.append("lm_head.weight")
    deq = {}
    for name in mats:
        t = w[name]
        meta = None
        if "q_proj" in name:
            meta = H
        elif "k_proj" in name:
            meta = K
        file_t = meta_order(t, meta) if meta else t
        if version == 1:
            out.append(f32(file_t))
        else:
            data, d = q80(file_t, group)
            out.append(data)
            # back to HF's row order: the inverse of meta_order
            if meta:
                d1, d2 = d.shape
                d = d.view(meta, d1 // meta // 2, 2, d2).transpose(1, 2).reshape(d1, d2)
            deq[name] = d
    with open(path, "wb") as f:
        f.write(b"".join(out))
    print("wrote %s" % os.path.relpath(path, ROOT))
    return deq


if __name__ == "__main__":
    random_fixture(False)
    random_fixture(True)
    trained_fixture()
    random_fixture(False, bias=True)
