#!/usr/bin/env bash
# The gpu presets, one after the other, on one large GPU; prints their figures.
#
#   bash tools/run_gpu_presets.sh [WORK_DIR]        (default work_dirs/gpu)
#
# 1. python tools/demo.py --preset gpu           -> WORK_DIR/demo/{summary.md,swap_grid.png}
# 2. python tools/reproduce_table4.py --preset gpu -> WORK_DIR/table4/results.md
# Each is resumable: run the script again to finish an interrupted one. The wall
# time of each step is printed beside its figures (docs/results.md has the runs).
# The main processes get a few CPU threads each (their work is on the GPU) so that
# the data-loading workers keep the cores.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORK="${1:-work_dirs/gpu}"
PY="${PYTHON:-python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}" PYTHONUNBUFFERED=1
"$PY" - <<'PYEOF' || exit 1
import torch
if not torch.cuda.is_available():
    raise SystemExit('run_gpu_presets.sh: no CUDA device visible to torch; these presets are '
                     'for one large GPU (the cpu presets: python tools/demo.py, '
                     'python tools/reproduce_table4.py --preset cpu)')
print(f'[gpu] torch {torch.__version__} on {torch.cuda.get_device_name(0)}', flush=True)
PYEOF
rc=0
step() {  # name, command...
  local name="$1" t0=$SECONDS; shift
  echo "[gpu] $name: $*"
  "$@" || { echo "[gpu] $name FAILED (exit $?)"; rc=1; }
  echo "[gpu] $name: $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s"
}
step demo "$PY" tools/demo.py --preset gpu --work-dir "$WORK/demo"
step table4 "$PY" tools/reproduce_table4.py --preset gpu --work-dir "$WORK/table4"
exit $rc
