#!/usr/bin/env bash
# Scaling matrix: the receiver-bound scaling bench (bench/scaling.ts) for channel-worker
# counts 1..N on a machine with more cores, one table per shape and worker count.
#   bash bench/scaling-matrix.sh [N (default: cores / 2, at most 8)] [seconds per run (default 3)]
#   SHAPES=bulk,short,echo bash bench/scaling-matrix.sh …   (default bulk,short)
# Budget: (1 inline + 2 hand-offs × N) configs × shapes × rounds × (seconds + ~2.5 s of
# start, warm-up and FIN): on 16 cores, N = 8, 2 shapes, 2 rounds, 3 s:
# 17 × 2 × 2 × 5.5 s ≈ 6.2 min, under 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cores=$(node -e 'console.log(require("os").availableParallelism())')
n=${1:-$(( cores / 2 < 8 ? cores / 2 : 8 ))}
(( n >= 1 )) || n=1
secs=${2:-3}
[[ -f dist/bench/scaling.js ]] || npm run build >/dev/null
echo "scaling matrix: $cores cores, worker counts 1..$n, $secs s per run, $(uptime | sed 's/.*load/load/')"
configs=inline
for w in $(seq 1 "$n"); do configs+=",w$w-shared,w$w-transfer"; done
rounds=2
(( n <= 4 )) && rounds=3
node dist/bench/scaling.js --only "${SHAPES:-bulk,short}" --rounds "$rounds" --seconds "$secs" --configs "$configs" --channels $(( n > 4 ? n : 4 ))
