#!/usr/bin/env bash
# One prepared accelerator check: environment, the TensorFlow-free install, a test subset on the
# accelerator, the convolution and training-step benchmarks, and a short demo run. Everything
# it measures lands in $OUT/gpu_check.tar.gz, its summary and Markdown tables also beside it
# (benchmarks/results/ takes the JSON and Markdown afterwards).
#
#   on the GPU machine (jax there, no TensorFlow; wheels for what its image lacks in .whl/):
#       bash benchmarks/gpu_check.sh
#   dry run on a CPU, tiny sizes, to check the script itself before spending device minutes:
#       GPU_CHECK_DRY=1 JAX_PLATFORMS=cpu bash benchmarks/gpu_check.sh
#
# Wheels for the packages the GPU image lacks (ml_collections, dm-pix, grain, array_record and
# theirs), saved here with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux2014_x86_64 -d .whl ml_collections dm-pix \
#     grain array_record portpicker cloudpickle
# are installed into /tmp/site first (no index, no dependencies: the image has the rest).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
if [ -n "${GPU_CHECK_DRY:-}" ]; then QUICK=--quick; STEPS=20; UNET="32 2"; else
    QUICK=; STEPS=450; UNET="256 32"; fi
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false JAX_PLATFORMS=${JAX_PLATFORMS:-cuda}
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi

step() { echo "== $1 ($(date +%H:%M:%S))" | tee -a "$OUT/summary.txt"; }

step "environment"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
  "$PY" -c "import sys, jax, flax, optax; print(sys.version.split()[0], 'jax', jax.__version__, \
'flax', flax.__version__, 'optax', optax.__version__); print(jax.devices())"
  "$PY" -c "import importlib.util as u; print('tensorflow importable:', \
u.find_spec('tensorflow') is not None)"; } 2>&1 | tee "$OUT/env.txt"

step "the core install imports without TensorFlow"
"$PY" -c "import jaxshadow.train.loop, jaxshadow.predict, jaxshadow.pretrained; print('ok')" \
    2>&1 | tee -a "$OUT/summary.txt"

step "tests on the accelerator (TensorFlow-free subset)"
"$PY" -m pytest -p no:cacheprovider tests/test_metrics.py tests/test_precision.py \
    tests/test_color.py tests/test_layers.py tests/test_unet.py tests/test_synthetic.py \
    tests/test_mixed_precision.py tests/test_pretrained.py > "$OUT/tests_full.txt" 2>&1
echo "pytest exit status $?" >> "$OUT/tests_full.txt"
tail -n 30 "$OUT/tests_full.txt" | tee "$OUT/tests.txt"
grep -E "passed|failed|exit status" "$OUT/tests_full.txt" | tail -n 2 >> "$OUT/summary.txt"
rm "$OUT/tests_full.txt"

step "benchmarks: convolutions and training steps"
"$PY" -m benchmarks conv $QUICK --json "$OUT/conv.json" 2>&1 | tee "$OUT/conv.md"
"$PY" -m benchmarks train $QUICK --json "$OUT/train.json" 2>&1 | tee "$OUT/train.md"

step "the demo, $STEPS steps"
rm -rf /tmp/gpu_check_demo
start=$SECONDS
"$PY" -m jaxshadow train --config configs/demo.py --workdir /tmp/gpu_check_demo \
    --config.steps=$STEPS --config.eval_every=$STEPS --config.checkpoint_every=$STEPS \
    --config.data.reader=numpy 2>&1 | grep -E "first step|^step" | tee "$OUT/demo.txt"
echo "wall $((SECONDS - start)) s" | tee -a "$OUT/demo.txt"

# last, so that a time limit cuts only this: torch.compile takes minutes per dtype
read -r size batch <<< "$UNET"
step "unet ${size}², batch $batch, float32 and bfloat16, against PyTorch (eager, torch.compile)"
"$PY" -m benchmarks train --model unet --image-size "$size" --batch-size "$batch" --dtype both \
    --peers --json "$OUT/train_unet_peers.json" 2>&1 | tee "$OUT/train_unet_peers.md"
step "done"
# everything in one archive, the summary and the Markdown tables beside it (five files in all)
(cd "$OUT" && tar -czf gpu_check.tar.gz --exclude=gpu_check.tar.gz ./* && rm -f ./*.json env.txt \
    tests.txt demo.txt)
