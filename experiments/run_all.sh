#!/usr/bin/env bash
# Every experiment in order (each reuses the runs it finds in experiments/results/): a few minutes
# with --quick (a smoke test: seed 0, a 5% subset, 1 epoch per stage), hours without. Extra arguments go to each script.
#   bash experiments/run_all.sh [--quick] [--cff PATH]
set -euo pipefail
cd "$(dirname "$0")"
# Debian's python3 has python3-matplotlib (the figures); another python3 first on PATH may not.
PY=${PYTHON:-$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}
for e in schedule table1_methods fig6_convergence table2_inference fig5_layers table4_robustness fig4_margins \
         table5_pooling table6_views; do
  echo "== $e"
  "$PY" "$e.py" "$@"
done
