#!/bin/sh
# opkinds.sh PROFILE: a CPU profile (glora bench … --cpuprofile PROFILE)
# summed by op kind, from each function's own (flat) time. The kinds are
# name patterns, checked in order; "other" is what none matched (model
# construction, the benchmark's own loop, the scheduler).
set -eu
[ $# -eq 1 ] || { echo "usage: bench/opkinds.sh PROFILE" >&2; exit 2; }
top=$(go tool pprof -top -nodecount=100000 "$1" 2>&1) || {
	echo "bench/opkinds.sh: $1 is not a CPU profile go tool pprof can read:" >&2
	echo "$top" | tail -n 3 >&2
	exit 1
}
printf '%s\n' "$top" | awk '
function secs(s) {
	if (s ~ /ms$/) { sub(/ms$/, "", s); return s / 1000 }
	if (s ~ /us$/) { sub(/us$/, "", s); return s / 1e6 }
	if (s ~ /s$/) { sub(/s$/, "", s); return s + 0 }
	return s + 0
}
function kind(f) {
	# tensor.init…: closures of the micro-kernels (package-level var initialisers)
	if (f ~ /tensor\.(sgemm|sbgemm|pack|transpose|gemm|bf16|cvt|kernel|copy6|init\.)/ || f ~ /tensor\.\(\*(gemm|blockedGemm)/) return "matrix products (GEMM kernels, packing, bf16 conversion)"
	if (f ~ /nn\.\(\*attnCore\)|softmax|Softmax/) return "attention outside its GEMMs (softmax, per-head loops)"
	if (f ~ /[Ll]ayer[Nn]orm|lnBackward|lnForward/) return "LayerNorm"
	if (f ~ /gelu|GELU/) return "GELU"
	if (f ~ /method\/glora\./) return "GLoRA layer outside its GEMMs (W'"'"' build, reductions)"
	if (f ~ /optim\.|tensor\.adamw|tensor\.AdamW/) return "optimiser (AdamW)"
	if (f ~ /tensor\.(add|mul|sub|scale|axpy|Axpy|Add|Mul|Scale|sum|Sum|exp|Exp|max|Max|silu|SiLU|dot|Dot|colSums4|ColSums4)|autograd\.|nn\.|loss|Loss|crossEntropy/) return "elementwise, bias, residual, loss"
	if (f ~ /^runtime\.(mem|malloc|gc|scan|mark|heap|sweep|greyobject|findObject|wbBuf|bulkBarrier|typedmemmove)/) return "memory (allocation, clearing, copies, GC)"
	return "other"
}
/^ *[0-9.]+(s|ms|us) / {
	t = secs($1); f = $6
	for (i = 7; i <= NF; i++) f = f " " $i
	k = kind(f); by[k] += t; total += t
}
END {
	printf "| op kind | CPU s | share |\n|---|---|---|\n"
	n = 0
	for (k in by) keys[n++] = k
	for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (by[keys[j]] > by[keys[i]]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
	for (i = 0; i < n; i++) printf "| %s | %.2f | %.1f%% |\n", keys[i], by[keys[i]], 100 * by[keys[i]] / total
	printf "| total | %.2f | |\n", total
}'
