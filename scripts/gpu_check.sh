#!/usr/bin/env bash
# The GPU checks of scrutiny in one script, for a CUDA machine without network (issue 17), in under 8 minutes.
#
# It runs the project from this source tree with the machine's own Python (3.12 with torch, torchvision, timm,
# scipy, scikit-learn, matplotlib, jinja2, typer, rich, PyYAML and pytest) and installs only the wheels of .whl/
# (pydantic and its needs; scripts/fetch_gpu_wheels.sh downloads them beforehand on a machine with network). It
# never installs torch. Steps, each under its own time limit, each logged to $OUT/<step>.log:
#   1. versions and the device;
#   2. the CUDA tests (tests/trials/test_cuda_paths.py);
#   3. benchmarks/gpu_throughput.py (scrutiny's loop against a bare loop; the data paths);
#   4. benchmarks/seed_study.py (N seeds of the airbench recipe on random CIFAR-format images: times only);
#   5. airbench's own legacy/airbench94.py on the same kind of random images, where a copy is at
#      .whl/airbench94.py (not part of this repository; copy it there from KellerJordan/cifar10-airbench);
#   6. scrutiny case coordconv --scale paper and scrutiny case nf_spp --scale paper (generated data); the store is
#      resumable, so a step cut by its limit reports how many trials it finished and a rerun goes on from there.
# The limits add up to 440 s, so that the whole check ends within 8 minutes. Then one summary. Usage: scripts/gpu_check.sh   (OUT=folder for the logs; SEEDS=N for the seed study)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${OUT:-/tmp/scrutiny-gpu-check}")
SEEDS=${SEEDS:-32}
PY=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/scrutiny-gpu.XXXXXX)
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
start=$(date +%s)

note() { echo "$*" | tee -a "$SUMMARY"; }

step() {  # step NAME SECONDS COMMAND...: run with a limit, log, and record its status in the summary
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s)
  timeout --signal=INT --kill-after=15 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$? t1=$(date +%s)
  local how="ok"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] || [ $rc -eq 130 ] && how="CUT at ${limit}s"
  [ $rc -ne 0 ] && [ "$how" = "ok" ] && how="FAILED (exit $rc)"
  note "== $name: $how in $((t1 - t0)) s"
  return 0
}

# 1. Python path: the source tree and the carried wheels.
if ! "$PY" -c "import pydantic" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then  # only what is missing
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" .whl/*.whl \
    || { echo "gpu_check: installing .whl/ failed" >&2; exit 1; }
fi
export PYTHONPATH="$PWD/src:$WORK/site${PYTHONPATH:+:$PYTHONPATH}" NO_COLOR=1 PYTHONUNBUFFERED=1
"$PY" - <<'EOF' 2>&1 | tee -a "$SUMMARY" || exit 1
import platform, torch, scrutiny, pydantic
name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA DEVICE"
print(f"python {platform.python_version()}, torch {torch.__version__}, pydantic {pydantic.VERSION}, device: {name}")
EOF

# 2. CUDA tests.
step cuda_tests 80 "$PY" -m pytest -q -p no:cacheprovider tests/trials/test_cuda_paths.py
tail -n 3 "$OUT/cuda_tests.log" | sed 's/^/   /' | tee -a "$SUMMARY"

# 3. Throughput: scrutiny's loop against the bare loop, and the data paths.
step gpu_throughput 90 "$PY" benchmarks/gpu_throughput.py --epochs 5 --repeats 2
grep -E "^(ratio|loop|  [a-z_]+ +[0-9]+$)" "$OUT/gpu_throughput.log" | sed 's/^/   /' | tee -a "$SUMMARY"

# 4. The seed study: SEEDS seeds, four trials sharing the GPU.
step seed_study 120 "$PY" benchmarks/seed_study.py --seeds "$SEEDS" --workers 4 --gpus-per-trial 0.25
grep -E "^(#|per trial|sweep|[0-9]+ of)" "$OUT/seed_study.log" | sed 's/^/   /' | tee -a "$SUMMARY"

# 5. airbench's own script on random images in its own format (cifar10/train.pt, test.pt), where it was brought.
if [ -f .whl/airbench94.py ]; then
  mkdir -p "$WORK/airbench/cifar10"
  "$PY" - "$WORK/airbench/cifar10" <<'EOF'
import sys, torch
g = torch.Generator().manual_seed(0)
for name, n in (("train", 50000), ("test", 10000)):
    images = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    torch.save({"images": images, "labels": labels, "classes": [str(i) for i in range(10)]}, f"{sys.argv[1]}/{name}.pt")
EOF
  cp .whl/airbench94.py "$WORK/airbench/"
  (cd "$WORK/airbench" && step airbench_reference 60 "$PY" airbench94.py)
  grep -E "eval" "$OUT/airbench_reference.log" | head -n 6 | sed 's/^/   /' | tee -a "$SUMMARY"
else
  note "== airbench_reference: skipped (no .whl/airbench94.py)"
fi

# 6. Two cases at the paper scale; their data are generated.
for case in coordconv nf_spp; do
  step "case_$case" 45 "$PY" -m scrutiny case "$case" --scale paper --workers 4 --store "$WORK/store_$case" \
    --out "$OUT/report_$case" --force
  tail -n 4 "$OUT/case_$case.log" | sed 's/^/   /' | tee -a "$SUMMARY"
  "$PY" - "$WORK/store_$case" <<'EOF' | tee -a "$SUMMARY"
import sys
from pathlib import Path
from scrutiny.store import Store
store = Store(Path(sys.argv[1]))
ids = store.trial_ids() if Path(sys.argv[1]).exists() else []
done = [t for t in ids if store.status(t) == "complete"]
print(f"   trials complete in the store: {len(done)} of {len(ids)} started")
EOF
done

note "== total: $(($(date +%s) - start)) s; logs in $OUT"
rm -rf "$WORK"
