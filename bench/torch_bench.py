#!/usr/bin/python3
"""PyTorch reference for `glora bench`: the same shapes, timed the same way.

Run with Debian's python3 (torch 1.13): /usr/bin/python3 bench/torch_bench.py [sgemm|vit-train|vit-forward]
Prints one JSON object per line with the fields of `glora bench --json`.
The ViT mirrors timm's VisionTransformer (pre-norm blocks, fused qkv, exact GELU).
"""
import argparse, json, resource, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = nn.Linear(mlp, dim)

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
    def __init__(self, img=224, patch=16, chans=3, dim=192, depth=12, heads=3, mlp_ratio=4, classes=1000):
        super().__init__()
        self.patch_embed = nn.Conv2d(chans, dim, patch, patch)
        n = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, int(dim * mlp_ratio)) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x)[:, 0])


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def vit_flops(img, patch, chans, dim, depth, mlp, classes, batch):
    T = (img // patch) ** 2 + 1
    per = 2 * (T - 1) * patch * patch * chans * dim
    per += depth * 2 * T * (3 * dim * dim + dim * dim + 2 * dim * mlp)
    per += depth * 2 * 2 * T * T * dim
    per += 2 * dim * classes
    return per * batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", choices=["sgemm", "vit-train", "vit-forward"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--iters", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"bench": a.bench, "kernel": "torch-%s" % torch.__version__, "threads": a.threads}
    if a.bench == "sgemm":
        x, y = torch.randn(a.n, a.n), torch.randn(a.n, a.n)
        x @ y
        best = 1e9
        for _ in range(a.iters):
            t0 = time.perf_counter(); x @ y; best = min(best, time.perf_counter() - t0)
        out.update(seconds=best, gflops=2 * a.n ** 3 / best / 1e9)
    else:
        train = a.bench == "vit-train"
        m = ViT()
        img = torch.randn(a.batch, 3, 224, 224)
        labels = torch.randint(0, 1000, (a.batch,))
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.05)

        def step():
            if train:
                loss = F.cross_entropy(m(img), labels)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=False)
            else:
                with torch.no_grad():
                    m(img)
        for _ in range(a.warmup):
            step()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        s = time.perf_counter() - t0
        fl = vit_flops(224, 16, 3, 192, 12, 768, 1000, a.batch) * a.steps * (3 if train else 1)
        out.update(batch=a.batch, steps=a.steps, seconds=s, img_per_s=a.batch * a.steps / s, gflops=fl / s / 1e9)
    out["peak_rss_bytes"] = peak_rss()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
