#!/usr/bin/env bash
# Set up the project-local environment (.venv) that every README command uses.
#
# Idempotent: a second run with nothing changed returns in about a second.
# The first run on a fresh machine builds mmcv (full, with CPU ops) from the
# registry's source distribution (about 2 min on 2 cores: -O2 -g0 and a
# precompiled torch header, tools/pch_cxx.sh) and keeps the wheel in a
# wheelhouse keyed by Python/torch version, so later runs and other venvs on
# the same machine install it in seconds.
#
# Environment overrides:
#   MMSELFDIS_VENV        where the venv lives            (default: <repo>/.venv)
#   MMSELFDIS_WHEELHOUSE  where built wheels are cached   (default: ~/.cache/mmselfdis/wheelhouse)
#   MMSELFDIS_PYTHON      interpreter used to create it   (default: python3.11, else python3)
#   MMSELFDIS_TORCH_SPEC, MMSELFDIS_TORCHVISION_SPEC
#                         another torch/torchvision pair (default torch==2.14.1,
#                         torchvision==0.29.1), e.g. the one a GPU machine's image has:
#                         the mmcv wheel is then built against it (and cached under its
#                         own wheelhouse key) for that machine's Python
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMSELFDIS_VENV:-$ROOT/.venv}"
PY_BOOT="${MMSELFDIS_PYTHON:-$(command -v python3.11 || command -v python3)}"

TORCH_SPEC="${MMSELFDIS_TORCH_SPEC:-torch==2.14.1}"
TORCHVISION_SPEC="${MMSELFDIS_TORCHVISION_SPEC:-torchvision==0.29.1}"
MMCV_VERSION="2.1.0"
XTCOCO_VERSION="1.14.3"
OPENMMLAB_SPECS=(mmengine==0.10.7 mmdet==3.3.0 mmpose==1.3.2)
# Runtime dependencies of mmengine/mmdet/mmpose, listed by hand because the
# packages themselves are installed with --no-deps (mmpose requires chumpy,
# which does not build on modern pip/numpy and is not needed for 2D hands).
RUNTIME_DEPS=(addict yapf rich termcolor regex pyyaml
              json-tricks matplotlib munkres "numpy>=2" opencv-python pillow scipy six
              pycocotools shapely terminaltables tqdm
              pytest pytest-xdist tensorboard)
# setuptools < 70: mmcv 2.1.0's setup.py imports pkg_resources.packaging (gone
# in 70) and mmengine imports pkg_resources at run time (gone in 81, a warning
# on every import from 77 on). torch 2.14 declares setuptools >= 77, so pip
# reports that one conflict; it is expected (the test suite passes with it).
BUILD_DEPS=("setuptools<70" wheel ninja psutil cython packaging)

log() { printf '[bootstrap %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
# pip, without the per-package warnings about index locations that this
# machine's pip configuration names but that hold no such package.
pip_quiet() { "$@" 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2); }

# Everything that decides the environment's content goes into its stamp.
STAMP_KEY="$( (cat "$0" "$ROOT/setup.cfg"; echo "$TORCH_SPEC $TORCHVISION_SPEC") 2>/dev/null \
  | sha256sum | cut -c1-16)"
STAMP="$VENV/.mmselfdis-stamp"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" ]] \
   && "$VENV/bin/python" -c "import mmselfdis" >/dev/null 2>&1; then
  log "environment up to date: $VENV"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV with $PY_BOOT"
  "$PY_BOOT" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=(pip_quiet "$PY" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip

log "installing $TORCH_SPEC $TORCHVISION_SPEC (several GB; ~2 min from a local wheel)"
"${PIP[@]}" install -q "$TORCH_SPEC" "$TORCHVISION_SPEC"
log "installing build tools and runtime dependencies (pip's report that torch requires setuptools>=77 is expected: see BUILD_DEPS in this script)"
"${PIP[@]}" install -q "${BUILD_DEPS[@]}" "${RUNTIME_DEPS[@]}"

PYV="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
TORCHV="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
WHEELHOUSE="${MMSELFDIS_WHEELHOUSE:-$HOME/.cache/mmselfdis/wheelhouse}/$PYV-torch$TORCHV"
mkdir -p "$WHEELHOUSE"

# Run a long command in the background and print a heartbeat so a first-time
# build never looks hung; its full output goes to a log file.
with_heartbeat() {
  local what="$1" logfile="$2"; shift 2
  ( "$@" >"$logfile" 2>&1 ) &
  local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && log "$what ... $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s (log: $logfile)"
  done
  if ! wait "$pid"; then
    log "FAILED: $what; last lines of $logfile:"; tail -n 40 "$logfile"; exit 1
  fi
}

# --- mmcv (full, with compiled ops) -----------------------------------------
if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  if ! ls "$WHEELHOUSE"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
    BUILD="$(mktemp -d)"
    log "no cached mmcv wheel in $WHEELHOUSE: building mmcv $MMCV_VERSION with CPU ops from source (first run only, a few minutes on 2 cores)"
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
    # torch >= 2.14 headers require C++20; mmcv 2.1.0 hard-codes c++14/17. Its
    # ops compile with Python's -O3 -g; -O2 -g0 (appended, so they win) halves
    # each file's time, and tools/pch_cxx.sh precompiles the torch headers that
    # every op source includes first (see docs/install.md for the measurements).
    STD=c++17
    if "$PY" -c "import torch,sys; sys.exit(0 if tuple(map(int, torch.__version__.split('+')[0].split('.')[:2])) >= (2, 14) else 1)"; then
      STD=c++20
    fi
    sed -i -e "s/'-std=c++1[47]'/'-std=$STD', '-O2', '-g0', '-Winvalid-pch'/g" "$BUILD/mmcv-$MMCV_VERSION/setup.py"
    with_heartbeat "building mmcv ops" "$BUILD/build.log" \
      env MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" FORCE_CUDA=0 \
      CXX="$ROOT/tools/pch_cxx.sh" MMSELFDIS_REAL_CXX="${CXX:-c++}" \
      MMSELFDIS_PCH_HEADER="$BUILD/mmcv-$MMCV_VERSION/mmcv/ops/csrc/common/pytorch_cpp_helper.hpp" \
      "$PY" -m pip wheel -v --no-build-isolation --no-deps -w "$BUILD/dist" "$BUILD/mmcv-$MMCV_VERSION"
    # Keep the build log and per-file compile times (ninja's log) beside the wheel.
    cp "$BUILD/build.log" "$WHEELHOUSE/mmcv-build.log"
    NINJA_LOG="$(find "$BUILD/mmcv-$MMCV_VERSION/build" -name .ninja_log 2>/dev/null | head -n 1)"
    if [[ -n "$NINJA_LOG" ]]; then
      awk -F'\t' 'NR > 1 { printf "%7.2f s  %s\n", ($2 - $1) / 1000, $4 }' "$NINJA_LOG" \
        | sort -rn > "$WHEELHOUSE/mmcv-compile-times.txt"
      log "mmcv ops: $(wc -l < "$WHEELHOUSE/mmcv-compile-times.txt") sources, $(awk '{ s += $1 } END { printf "%.0f", s }' "$WHEELHOUSE/mmcv-compile-times.txt") s of compile time in all (per file: $WHEELHOUSE/mmcv-compile-times.txt)"
    fi
    if grep -q "pytorch_cpp_helper.hpp.gch.*not used" "$BUILD/build.log"; then
      log "note: the precompiled header was not used for some sources (see $WHEELHOUSE/mmcv-build.log)"
    fi
    mv "$BUILD"/dist/mmcv-*.whl "$WHEELHOUSE"/
    rm -rf "$BUILD"
  fi
  log "installing mmcv from $WHEELHOUSE"
  "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEELHOUSE"/mmcv-"$MMCV_VERSION"-*.whl
fi

# --- xtcocotools, compiled against the installed numpy ----------------------
NUMPYV="$("$PY" -c 'import numpy; print(numpy.__version__.split(".")[0])')"
XT_HOUSE="$WHEELHOUSE/numpy$NUMPYV"
mkdir -p "$XT_HOUSE"
if ! "$PY" -c "import xtcocotools.mask" >/dev/null 2>&1; then
  if ! ls "$XT_HOUSE"/xtcocotools-*.whl >/dev/null 2>&1; then
    log "building xtcocotools $XTCOCO_VERSION against numpy $NUMPYV (~10 s)"
    "${PIP[@]}" wheel -q --no-deps --no-binary xtcocotools --no-build-isolation \
      -w "$XT_HOUSE" "xtcocotools==$XTCOCO_VERSION"
  fi
  "${PIP[@]}" install -q --no-deps --force-reinstall "$XT_HOUSE"/xtcocotools-*.whl
fi

log "installing ${OPENMMLAB_SPECS[*]} (without their pinned extras)"
"${PIP[@]}" install -q --no-deps "${OPENMMLAB_SPECS[@]}"

log "installing mmselfdis (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

log "checking imports"
"$PY" - <<'PYEOF'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmpose, mmselfdis
import mmpose.models  # imports mmcv.ops at import time
torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
print(f'torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, mmpose {mmpose.__version__}, '
      f'mmselfdis {mmselfdis.__version__}')
PYEOF
echo "$STAMP_KEY" > "$STAMP"
log "environment ready: $VENV"
