#!/usr/bin/env bash
# Reproduces the shipped language model (shipped-lm): about 10 minutes on 2
# cores. Needs Debian's fortune databases (apt-get install fortune-mod
# fortunes-min fortunes fortunes-bofh-excuses). Writes runs/lm-fortune and,
# at the end, backbones/lm-fortune/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json}.
# The model kept is the step with the lowest validation loss (5% of the
# documents, split seed 0); the test 5% is read once, by eval-lm, at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o runs/glora ./cmd/glora
G=runs/glora
$G pretrain-lm --data fortune --out runs/lm-fortune --overwrite --vocab 2048 --dim 192 --layers 4 --heads 6 --kv-heads 2 \
  --seq-len 128 --batch 16 --steps 2500 --lr 2e-3 --min-lr 1e-4 --warmup 100 --wd 0.1 --eval-every 250 --eval-tokens 60000
$G convert --model runs/lm-fortune/best --out backbones/lm-fortune --dtype f16
cp runs/lm-fortune/best/tokenizer.json runs/lm-fortune/best/tokenizer_config.json backbones/lm-fortune/
$G eval-lm --model backbones/lm-fortune --data fortune --split test
