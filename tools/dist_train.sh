#!/usr/bin/env bash
# Distributed training through torchrun.
#   bash tools/dist_train.sh CONFIG NPROC [train.py args...]
# On machines without a GPU the processes use the gloo backend (see
# mmselfdis.utils.setup_launcher); with GPUs MMEngine's NCCL path is used.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: bash tools/dist_train.sh CONFIG NPROC [train.py options...]" >&2
  exit 2
fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-$( [[ -x "$TOOLS/../.venv/bin/python" ]] && echo "$TOOLS/../.venv/bin/python" || echo python)}

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$TOOLS/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
