#!/usr/bin/env bash
# Runs glora's benchmarks and the same shapes in PyTorch, one after the other
# in one run, and prints both and the ratio glora/PyTorch (glora-train: a
# GLoRA supernet step on ViT-Tiny, rank 8, backbone frozen, the same random
# structures on both sides; also printed: its ratio to glora's vit-train).
#   bench/compare.sh [--batch N] [--steps N] [--only lm-train,lm-generate]
#
# PyTorch gets its best configuration on this machine, measured both ways and
# the faster kept: (a) 2 OpenMP threads, (b) 1 OpenMP thread with OpenBLAS on
# 2 threads (measured: OpenMP and OpenBLAS threads together
# oversubscribe 2 cores). OpenBLAS's core type: an OPENBLAS_CORETYPE set in
# the environment is unset for torch's command (it may name a slower core);
# where the CPU has AVX-512, SkylakeX is named instead, because OpenBLAS
# 0.3.21 misdetects newer Xeons as "Prescott" and runs ~5× slower.
# Override with TORCH_OPENBLAS_CORETYPE=NAME (or =auto to let OpenBLAS detect).
# lm-train and lm-generate: llama2.c's stories15M shape (dim 288, 6 layers,
# vocabulary 32000; training batch 8 × 256 tokens; decoding batch 1, a
# 16-token prompt then 200 tokens with a key/value cache), tokens per second.
# Each benchmark runs in its own process, so peak RSS is per benchmark.
# vit-train, vit-forward and lm-train also run in bf16: glora --precision bf16 against
# PyTorch's torch.autocast("cpu", dtype=torch.bfloat16), both thread
# settings, the faster kept (--no-bf16 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=32 STEPS=3 BF16=1 ONLY=
while [ $# -gt 0 ]; do
  case "$1" in
    --batch) BATCH=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --no-bf16) BF16=0; shift ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "usage: $0 [--batch N] [--steps N] [--no-bf16] [--only BENCH,BENCH…]" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
"$PY" -c 'import torch' 2>/dev/null || { echo "needs Debian's python3-torch: apt-get install python3-torch" >&2; exit 1; }
CT=${TORCH_OPENBLAS_CORETYPE:-}
if [ -z "$CT" ] && grep -qw avx512f /proc/cpuinfo; then CT=SkylakeX; fi
[ "$CT" = auto ] && CT=
coretype=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
[ -n "$CT" ] && coretype+=(OPENBLAS_CORETYPE="$CT")
go build -o /tmp/glora-bench ./cmd/glora
out=$(mktemp)
runs=(sgemm:f32 vit-train:f32 vit-forward:f32 glora-train:f32 lm-train:f32 lm-generate:f32)
[ "$BF16" = 1 ] && runs+=(vit-train:bf16 vit-forward:bf16 lm-train:bf16)
for run in "${runs[@]}"; do
  b=${run%%:*} p=${run##*:}
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$b,"* ]]; then continue; fi
  shape=(--batch "$BATCH" --steps "$STEPS")
  case $b in lm-train) shape=(--batch 8 --steps "$STEPS") ;; lm-generate) shape=() ;; esac
  /tmp/glora-bench bench --json --precision "$p" "${shape[@]}" "$b" 2>/dev/null | sed 's/^/go /' >>"$out"
  env "${coretype[@]}" OMP_NUM_THREADS=2 "$PY" bench/torch_bench.py --precision "$p" --threads 2 "${shape[@]}" "$b" | sed 's/^/torch /' >>"$out"
  env "${coretype[@]}" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 "$PY" bench/torch_bench.py --precision "$p" --threads 1 "${shape[@]}" "$b" | sed 's/^/torch /' >>"$out"
done
echo "PyTorch: OPENBLAS_CORETYPE=${CT:-<autodetected>}"
"$PY" - "$out" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    who, js = line.split(" ", 1)
    r = json.loads(js)
    k = "tok_per_s" if "tok_per_s" in r else "img_per_s" if "img_per_s" in r else "gflops"
    name = r["bench"] + ("" if r.get("precision", "f32") == "f32" else " " + r["precision"])
    best = rows.setdefault(name, {}).get(who)
    if best is None or r[k] > best[k]:
        rows[name][who] = r
print(f"{'bench':<17} {'metric':<10} {'glora':>10} {'pytorch':>10} {'ratio':>7}   {'RSS glora':>10} {'RSS torch':>10} {'ratio':>6}  torch threads")
for b, r in rows.items():
    g, t = r["go"], r["torch"]
    k = "tok_per_s" if "tok_per_s" in g else "img_per_s" if "img_per_s" in g else "gflops"
    mg, mt = g["peak_rss_bytes"] / 2**20, t["peak_rss_bytes"] / 2**20
    print(f"{b:<17} {k:<10} {g[k]:>10.1f} {t[k]:>10.1f} {g[k]/t[k]:>6.2f}x   {mg:>8.0f}Mi {mt:>8.0f}Mi {mg/mt:>5.2f}x  {t['threads']}")
if "glora-train" in rows and "vit-train" in rows:
    g, f = rows["glora-train"]["go"], rows["vit-train"]["go"]
    print(f"glora: GLoRA supernet step / full fine-tuning step: {g['img_per_s']/f['img_per_s']:.2f}x")
for b in ("vit-train", "vit-forward", "lm-train"):
    if b + " bf16" in rows and b in rows:
        k = "tok_per_s" if b == "lm-train" else "img_per_s"
        print(f"{b}: bf16 / f32 speed: glora {rows[b + ' bf16']['go'][k] / rows[b]['go'][k]:.2f}x "
              f"({rows[b + ' bf16']['go']['kernel']}), PyTorch {rows[b + ' bf16']['torch'][k] / rows[b]['torch'][k]:.2f}x")
PY
rm -f "$out"
