#!/usr/bin/env bash
# The GPU checks, in one run that fits a lent machine's 10-minute command: the tests that need
# CUDA, then the JPEG benchmark, which indexes the same photos with JPEGs decoded by the
# workers, by the model's device and by both (benchmarks/results/cuda/jpeg_decoding.md).
# Needs the .gpu folder scripts/gpu_bundle.sh makes.
#
#   scripts/gpu_check.sh OUT_DIR      # logs, jpeg_decoding.md and .json land in OUT_DIR
#
# Each step's log is written as it goes, so a run stopped at its time limit still says how far
# it got; the exit status is the first failing step's.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
mkdir -p "$out"
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 IMAGEDB_SHARED_DATA=$PWD/.gpu/data
status=0

# Run a step with its output also in OUT_DIR/LOG; keep the first failing step's status.
step() {
    local log=$1
    shift
    "$@" 2>&1 | tee -a "$out/$log"
    local code=${PIPESTATUS[0]}
    if [ "$status" = 0 ]; then status=$code; fi
}

if compgen -G ".gpu/wheels/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/imagedb-site \
        .gpu/wheels/*.whl || exit
    export PYTHONPATH=/tmp/imagedb-site${PYTHONPATH:+:$PYTHONPATH}
fi

{ nvidia-smi -L || echo "no nvidia-smi"; } 2>&1 | tee "$out/environment.log"
step environment.log "$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.cuda.is_available())'
# The tests that need CUDA (the rest ran in CI; some need LanceDB, which this machine lacks).
step cuda-tests.log "$PY" -m pytest -q -p no:cacheprovider -k "cuda or gpu" \
    tests/test_device_decoding.py tests/test_decoding_speed_paths.py
step jpeg-decoding.log "$PY" -m benchmarks.jpeg_decoding --corpus .gpu/data/coco-mini --trials 3 --out "$out"
exit "$status"
