#!/usr/bin/env bash
# The gpu presets, one after the other on one large GPU; prints their figures.
#
#   bash tools/run_gpu_presets.sh [WORK_DIR]          (default work_dirs/gpu)
#   SIDE_BY_SIDE=1 bash tools/run_gpu_presets.sh ...  (both at once)
#
# 1. python tools/demo.py --preset gpu           -> WORK_DIR/demo/{summary.md,swap_grid.png}
# 2. python tools/reproduce_table4.py --preset gpu -> WORK_DIR/table4/results.md
# Each is resumable: run the script again to finish an interrupted one. The wall
# time of each is printed beside its figures (docs/results.md has the runs). Each
# preset runs all its trainings and evaluations in one process (a process costs
# ~20 s of imports and CUDA start-up there), with 8 loader workers and
# OMP_NUM_THREADS threads in the main process (default 2; its work is on the GPU).
# Side by side, the two presets' steps were 2.6-3.9 times slower than a step alone
# (they share the GPU and the cores), so they run one after the other by default.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORK="${1:-work_dirs/gpu}"
PY="${PYTHON:-python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" PYTHONUNBUFFERED=1
"$PY" - <<'PYEOF' || exit 1
import torch
if not torch.cuda.is_available():
    raise SystemExit('run_gpu_presets.sh: no CUDA device visible to torch; these presets are '
                     'for one large GPU (the cpu presets: python tools/demo.py, '
                     'python tools/reproduce_table4.py --preset cpu)')
print(f'[gpu] torch {torch.__version__} on {torch.cuda.get_device_name(0)}', flush=True)
PYEOF
rc=0
mkdir -p "$WORK"
step() {  # name, command... (its output goes to WORK/<name>.out)
  local name="$1" t0=$SECONDS code=0; shift
  echo "[gpu] $name: $* (output: $WORK/$name.out)"
  "$@" >"$WORK/$name.out" 2>&1 || code=$?
  tail -n 40 "$WORK/$name.out" | sed "s/^/[$name] /"
  [[ $code == 0 ]] || echo "[gpu] $name FAILED (exit $code)"
  echo "[gpu] $name: $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s"
  return $code
}
if [[ "${SIDE_BY_SIDE:-0}" != 1 ]]; then
  step table4 "$PY" tools/reproduce_table4.py --preset gpu --work-dir "$WORK/table4" || rc=1
  step demo "$PY" tools/demo.py --preset gpu --work-dir "$WORK/demo" || rc=1
else
  step demo "$PY" tools/demo.py --preset gpu --work-dir "$WORK/demo" & pid_demo=$!
  step table4 "$PY" tools/reproduce_table4.py --preset gpu --work-dir "$WORK/table4" & pid_t4=$!
  wait $pid_demo || rc=1
  wait $pid_t4 || rc=1
fi
exit $rc
