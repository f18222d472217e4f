#!/usr/bin/python3
"""PyTorch reference for `glora bench`: the same shapes, timed the same way.

Run with Debian's python3 (torch 1.13): /usr/bin/python3 bench/torch_bench.py [sgemm|vit-train|vit-forward|glora-train]
Prints one JSON object per line with the fields of `glora bench --json`.
The ViT mirrors timm's VisionTransformer (pre-norm blocks, fused qkv, exact GELU).
glora-train wraps every block Linear in the GLoRA layer as the reference code
(ViT-Slim's SuperScalableLinear) writes it: every path read from the stored
tensors by slicing, W' = W0 + W0*A + B and b' = b0 + b0*D + E + W0@C built in
full each forward, then F.linear; the backbone frozen, the head and the support
tensors trained, one random structure per step (the same ones glora draws:
bench_structure mirrors bench.Structure (bench/glora.go)).
"""
import argparse, contextlib, json, math, resource, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class GLoRALinear(nn.Linear):
    """A Linear with GLoRA's support tensors (stored rank R), the reference code's forward."""

    def __init__(self, in_features, out_features, rank):
        super().__init__(in_features, out_features)
        self.Ad = nn.Parameter(torch.zeros(out_features, rank))
        self.Au = nn.Parameter(nn.init.xavier_uniform_(torch.empty(rank, in_features)))
        self.Bd = nn.Parameter(torch.zeros(out_features, rank))
        self.Bu = nn.Parameter(nn.init.xavier_uniform_(torch.empty(rank, in_features)))
        self.Cd = nn.Parameter(torch.zeros(in_features, rank))
        self.Cu = nn.Parameter(nn.init.xavier_uniform_(torch.empty(rank, 1)))
        self.D = nn.Parameter(torch.zeros(out_features))
        self.E = nn.Parameter(torch.zeros(out_features))
        self.eval_config = dict(A="none", B="none", C="none", D="none", E="none")

    @staticmethod
    def prepare_path(config, Xd, Xu=None):
        if Xu is not None:
            if config.startswith("lora_"):
                r = int(config.split("_")[1])
                return torch.matmul(Xd[:, :r], Xu[:r, :])
            if config == "vector":
                return Xd[:, 0].unsqueeze(1)
            if config == "constant":
                return Xd[0, 0]
            return torch.zeros(Xd.shape[0], Xu.shape[1])
        if config == "vector":
            return Xd
        if config == "constant":
            return Xd[0]
        return torch.zeros(1)

    def forward(self, x):
        c = self.eval_config
        A = self.prepare_path(c["A"], self.Ad, self.Au)
        B = self.prepare_path(c["B"], self.Bd, self.Bu)
        C = self.prepare_path(c["C"], self.Cd, self.Cu)
        D = self.prepare_path(c["D"], self.D)
        E = self.prepare_path(c["E"], self.E)
        w = self.weight + self.weight * A + B
        b = self.bias + self.bias * D + E
        return F.linear(x, w, b + torch.matmul(self.weight, C).squeeze())


class Block(nn.Module):
    def __init__(self, dim, heads, mlp, glora_rank=0):
        super().__init__()
        self.heads = heads
        lin = (lambda i, o: GLoRALinear(i, o, glora_rank)) if glora_rank else nn.Linear
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = lin(dim, 3 * dim)
        self.proj = lin(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = lin(dim, mlp)
        self.fc2 = lin(mlp, dim)

    def forward(self, x):
        B, T, C = x.shape
        H = self.heads
        qkv = self.qkv(self.norm1(x)).reshape(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        a = (q @ k.transpose(-2, -1)) * (C // H) ** -0.5
        a = a.softmax(dim=-1)
        h = (a @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(h)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, img=224, patch=16, chans=3, dim=192, depth=12, heads=3, mlp_ratio=4, classes=1000, glora_rank=0):
        super().__init__()
        self.patch_embed = nn.Conv2d(chans, dim, patch, patch)
        n = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, int(dim * mlp_ratio), glora_rank) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x)[:, 0])


M64 = (1 << 64) - 1


def bench_structure(layers, rank, seed, step):
    """bench.Structure (bench/glora.go): per layer and support A..E, choice splitmix64() mod n of the
    allowed choices, in glora.Space.Allowed's order (every layer here has a bias)."""
    allowed = {"A": ["lora_%d" % rank, "vector", "constant", "none"], "C": ["lora_%d" % rank, "vector", "none"],
               "D": ["vector", "constant", "none"]}
    allowed["B"], allowed["E"] = allowed["A"], allowed["D"]
    state = (seed + step * 0x100000001B3) & M64

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)
    for layer in layers:
        layer.eval_config = {s: allowed[s][nxt() % len(allowed[s])] for s in "ABCDE"}


def timed(step, warmup, steps):
    """Seconds that steps calls of step take, after warmup untimed ones."""
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def vit_flops(img, patch, chans, dim, depth, mlp, classes, batch):
    T = (img // patch) ** 2 + 1
    per = 2 * (T - 1) * patch * patch * chans * dim
    per += depth * 2 * T * (3 * dim * dim + dim * dim + 2 * dim * mlp)
    per += depth * 2 * 2 * T * T * dim
    per += 2 * dim * classes
    return per * batch


class LlamaLM(torch.nn.Module):
    """A LLaMA decoder in Hugging Face's conventions, written for speed in
    PyTorch 1.13 eager (no scaled_dot_product_attention there): fused
    causal mask, rotary tables precomputed, a preallocated key/value cache
    for decoding. The shape is llama2.c's stories15M, as glora's bench."""

    def __init__(self, V=32000, D=288, F=768, L=6, H=6, K=6, T=256):
        super().__init__()
        self.H, self.K, self.hd, self.T = H, K, D // H, T
        self.emb = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            l = torch.nn.Module()
            l.n1, l.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
            l.q = torch.nn.Linear(D, H * self.hd, bias=False)
            l.k = torch.nn.Linear(D, K * self.hd, bias=False)
            l.v = torch.nn.Linear(D, K * self.hd, bias=False)
            l.o = torch.nn.Linear(H * self.hd, D, bias=False)
            l.g = torch.nn.Linear(D, F, bias=False)
            l.u = torch.nn.Linear(D, F, bias=False)
            l.d = torch.nn.Linear(F, D, bias=False)
            self.layers.append(l)
        self.norm = torch.nn.Parameter(torch.ones(D))
        inv = 10000.0 ** (-torch.arange(0, self.hd, 2).float() / self.hd)
        ang = torch.outer(torch.arange(T).float(), inv)
        self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], -1))
        self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], -1))
        self.register_buffer("mask", torch.full((T, T), float("-inf")).triu(1))
        self.cache = None

    @staticmethod
    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))

    def rope(self, x, pos):
        T, h = x.shape[2], self.hd // 2
        c, s = self.cos[pos:pos + T], self.sin[pos:pos + T]
        return x * c + torch.cat([-x[..., h:], x[..., :h]], -1) * s

    def forward(self, ids, pos=0):
        B, T = ids.shape
        x = self.emb(ids)
        for i, l in enumerate(self.layers):
            h = self.rms(x, l.n1)
            q = self.rope(l.q(h).view(B, T, self.H, self.hd).transpose(1, 2), pos)
            k = self.rope(l.k(h).view(B, T, self.K, self.hd).transpose(1, 2), pos)
            v = l.v(h).view(B, T, self.K, self.hd).transpose(1, 2)
            if self.cache is not None:
                kc, vc = self.cache[i]
                kc[:, :, pos:pos + T], vc[:, :, pos:pos + T] = k, v
                k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
            if self.H != self.K:
                k, v = k.repeat_interleave(self.H // self.K, 1), v.repeat_interleave(self.H // self.K, 1)
            att = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
            if T > 1:
                att = att + self.mask[:T, :T] if self.cache is None else att + self.mask[pos:pos + T, :pos + T]
            a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
            x = x + l.o(a)
            h = self.rms(x, l.n2)
            x = x + l.d(F.silu(l.g(h)) * l.u(h))
        return self.rms(x, self.norm) @ self.emb.weight.t()


def lm_bench(a, out):
    m = LlamaLM()
    n_params = sum(p.numel() for p in m.parameters())
    if a.bench == "lm-train":
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)

        def step():
            x = torch.randint(0, 32000, (a.batch, a.seq_len + 1))
            loss = F.cross_entropy(m(x[:, :-1]).reshape(-1, 32000), x[:, 1:].reshape(-1))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=False)
        s = timed(step, a.warmup, a.steps)
        out.update(params=n_params, batch=a.batch, seq_len=a.seq_len, steps=a.steps, seconds=s,
                   tok_per_s=a.batch * a.seq_len * a.steps / s)
        return
    with torch.no_grad():
        m.cache = [(torch.zeros(1, m.K, m.T, m.hd), torch.zeros(1, m.K, m.T, m.hd)) for _ in m.layers]
        prompt = torch.randint(0, 32000, (1, a.prompt))
        t0 = time.perf_counter()
        nxt = m(prompt)[0, -1].argmax()
        pre = time.perf_counter() - t0
        t1 = time.perf_counter()
        for i in range(a.tokens):
            nxt = m(nxt.view(1, 1), a.prompt + i)[0, -1].argmax()
        s = time.perf_counter() - t1
    out.update(params=n_params, batch=1, seq_len=a.prompt, steps=a.tokens, seconds=s, tok_per_s=a.tokens / s,
               prefill_ms=pre * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", choices=["sgemm", "vit-train", "vit-forward", "glora-train", "lm-train", "lm-generate"])
    ap.add_argument("--seq-len", type=int, default=256, help="lm-train: tokens per sequence")
    ap.add_argument("--prompt", type=int, default=16, help="lm-generate: prompt tokens")
    ap.add_argument("--tokens", type=int, default=200, help="lm-generate: tokens decoded one at a time")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                    help="bf16: torch.autocast('cpu', dtype=torch.bfloat16) around the forward (and so the loss)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"bench": a.bench, "kernel": "torch-%s" % torch.__version__, "threads": a.threads, "precision": a.precision}
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.precision == "bf16" else contextlib.nullcontext
    if a.bench.startswith("lm-"):
        lm_bench(a, out)
    elif a.bench == "sgemm":
        x, y = torch.randn(a.n, a.n), torch.randn(a.n, a.n)
        x @ y
        best = 1e9
        for _ in range(a.iters):
            t0 = time.perf_counter(); x @ y; best = min(best, time.perf_counter() - t0)
        out.update(seconds=best, gflops=2 * a.n ** 3 / best / 1e9)
    else:
        train = a.bench in ("vit-train", "glora-train")
        glora = a.bench == "glora-train"
        m = ViT(glora_rank=a.rank if glora else 0)
        img = torch.randn(a.batch, 3, 224, 224)
        labels = torch.randint(0, 1000, (a.batch,))
        params = list(m.parameters())
        layers = [l for l in m.modules() if isinstance(l, GLoRALinear)]
        if glora:  # backbone frozen; the head and the support tensors train
            support = [p for l in layers for p in (l.Ad, l.Au, l.Bd, l.Bu, l.Cd, l.Cu, l.D, l.E)]
            for p in m.parameters():
                p.requires_grad_(False)
            params = support + list(m.head.parameters())
            for p in params:
                p.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05)
        n_step = [0]

        def step():
            if glora:
                bench_structure(layers, a.rank, 1, n_step[0])
                n_step[0] += 1
            if train:
                with cast():
                    loss = F.cross_entropy(m(img), labels)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=False)
            else:
                with torch.no_grad(), cast():
                    m(img)
        s = timed(step, a.warmup, a.steps)
        fl = vit_flops(224, 16, 3, 192, 12, 768, 1000, a.batch) * a.steps * (3 if train else 1)
        out.update(batch=a.batch, steps=a.steps, seconds=s, img_per_s=a.batch * a.steps / s, gflops=fl / s / 1e9)
    out["peak_rss_bytes"] = peak_rss()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
