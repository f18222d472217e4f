#!/usr/bin/env bash
# Runs glora's benchmarks and the same shapes in PyTorch, one after the other
# in one run, and prints both and the ratio glora/PyTorch.
#   bench/compare.sh [--batch N] [--steps N]
# PyTorch runs with 2 intra-op threads (OpenMP layer) and OPENBLAS_CORETYPE /
# OPENBLAS_L2_SIZE unset for its command only. Each benchmark runs in its own
# process so peak RSS is per benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=32 STEPS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --batch) BATCH=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    *) echo "usage: $0 [--batch N] [--steps N]" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
"$PY" -c 'import torch' 2>/dev/null || { echo "needs Debian's python3-torch: apt-get install python3-torch" >&2; exit 1; }
go build -o /tmp/glora-bench ./cmd/glora
out=$(mktemp)
for b in sgemm vit-train vit-forward; do
  /tmp/glora-bench bench --json --batch "$BATCH" --steps "$STEPS" "$b" | sed 's/^/go /' >>"$out"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 "$PY" bench/torch_bench.py --batch "$BATCH" --steps "$STEPS" "$b" | sed 's/^/torch /' >>"$out"
done
"$PY" - "$out" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    who, js = line.split(" ", 1)
    r = json.loads(js)
    rows.setdefault(r["bench"], {})[who] = r
print(f"{'bench':<12} {'metric':<10} {'glora':>10} {'pytorch':>10} {'ratio':>7}   {'RSS glora':>10} {'RSS torch':>10} {'ratio':>6}")
for b, r in rows.items():
    g, t = r["go"], r["torch"]
    k = "img_per_s" if "img_per_s" in g else "gflops"
    mg, mt = g["peak_rss_bytes"] / 2**20, t["peak_rss_bytes"] / 2**20
    print(f"{b:<12} {k:<10} {g[k]:>10.1f} {t[k]:>10.1f} {g[k]/t[k]:>6.2f}x   {mg:>8.0f}Mi {mt:>8.0f}Mi {mg/mt:>5.2f}x")
PY
rm -f "$out"
