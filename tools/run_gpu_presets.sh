#!/usr/bin/env bash
# The gpu presets, side by side on one large GPU; prints their figures.
#
#   bash tools/run_gpu_presets.sh [WORK_DIR]        (default work_dirs/gpu)
#   SEQUENTIAL=1 bash tools/run_gpu_presets.sh ...  (one after the other)
#
# 1. python tools/demo.py --preset gpu           -> WORK_DIR/demo/{summary.md,swap_grid.png}
# 2. python tools/reproduce_table4.py --preset gpu -> WORK_DIR/table4/results.md
# Each is resumable: run the script again to finish an interrupted one. The wall
# time of each is printed beside its figures (docs/results.md has the runs). A
# training step of these models is bound by the host, not the GPU, and a process
# costs ~25 s of imports and CUDA start-up there, so each preset runs all its
# trainings and evaluations in one process, one after the other, at a batch larger
# than the paper's (Table 4: 512, the demo: 256); the two presets run side by side,
# each main process with OMP_NUM_THREADS threads (default 2; their work is on the
# GPU) and its loader workers (Table 4: 5, the demo: 4).
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
if [[ "${SEQUENTIAL:-0}" == 1 ]]; then
  step demo "$PY" tools/demo.py --preset gpu --work-dir "$WORK/demo" || rc=1
  step table4 "$PY" tools/reproduce_table4.py --preset gpu --work-dir "$WORK/table4" || rc=1
else
  step demo "$PY" tools/demo.py --preset gpu --work-dir "$WORK/demo" & pid_demo=$!
  step table4 "$PY" tools/reproduce_table4.py --preset gpu --work-dir "$WORK/table4" & pid_t4=$!
  wait $pid_demo || rc=1
  wait $pid_t4 || rc=1
fi
exit $rc
