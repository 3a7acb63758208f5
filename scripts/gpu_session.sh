#!/usr/bin/env bash
# Everything one short GPU lease is for, in one run that ends by itself within $BUDGET_S seconds:
#   1. CUDA correctness (issue 2, 5): the parity fixture in float32 / float16 / bfloat16 and every
#      test marked `gpu` (half precision, GPU crop, CUDA-graph replay, no host synchronisation);
#   2. GPU speed (issue 5): benchmarks/bench_tracker.py at 640x480, 1920x1080 and 16 targets,
#      each beside the plain float32 eager path (with the torch.compile search branch at
#      640x480), the lite default model, and benchmarks/profile_tracker.py's breakdown of one
#      step (host phases, top kernels);
#   3. the default model (issue 12): stage 1 (in the background while 1 runs) in the time that 2 and
#      stage 2 leave, then stage 2, exported as float16 safetensors.
# The benchmarks run last, alone on the machine. Training data come from .data/
# (scripts/pack_training_data.sh, carried along). Results land in $OUT: session.log, train.log,
# the stages' log.csv files and the weights. INIT_CHECKPOINT=stt_tracker_ros/weights/
# default.safetensors continues training the shipped model (its EfficientNet-Lite0 body included,
# so the GPU machine needs no ImageNet weights package) instead of starting from ImageNet;
# TRAIN_MODEL=config/models/stark_st_compact.yaml trains another network from scratch.
#   OUT=/tmp/gpu_out BUDGET_S=570 bash scripts/gpu_session.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_session}
BUDGET_S=${BUDGET_S:-570}
PYTHON=${PYTHON:-python3}
RUN=${RUN:-runs/default}
INIT_CHECKPOINT=${INIT_CHECKPOINT:-}
TRAIN_MODEL=${TRAIN_MODEL:-}
START=$(date +%s)
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
exec > >(tee -a "$OUT/session.log") 2>&1

left() { echo $((BUDGET_S - $(date +%s) + START)); }

# step NAME SECONDS COMMAND...: run COMMAND under a time limit and say how it ended.
step() {
    local name=$1 limit=$2 began code
    shift 2
    began=$(date +%s)
    echo "=== $name (limit ${limit}s, $(left)s of the session left): $*"
    timeout "$limit" "$@"
    code=$?
    echo "=== $name: exit $code after $(($(date +%s) - began))s"
}

echo "=== setup: $(date -u +%FT%TZ), $(nproc) cores"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$PYTHON" -c 'import sys, torch, cv2; print(sys.version.split()[0], torch.__version__,
torch.version.cuda, cv2.__version__, torch.cuda.get_device_name())'
df -h /dev/shm | tail -1

# Stage 1 must end by $stage1_end s into the session: stage 2 with the export and the benchmarks
# (one of which compiles the search branch) need the rest.
stage1_end=$((BUDGET_S - 330))
stage1_s=$((stage1_end - $(date +%s) + START))   # 50 s of it start up, validate and save
stage1_minutes=$("$PYTHON" -c "print(max(0.5, ($stage1_s - 50) / 60))")
train() {   # train STAGE TIMEOUT MINUTES
    echo "=== train-stage$1 (limit ${2}s, time limit $3 min, $(left)s left)"
    local extra=()
    if [[ $1 == 1 && -n $INIT_CHECKPOINT ]]; then
        extra+=(--override "init_checkpoint=$INIT_CHECKPOINT")
    fi
    if [[ -n $TRAIN_MODEL ]]; then
        extra+=(--override "model=$TRAIN_MODEL")
    fi
    timeout "$2" "$PYTHON" -m stt_tracker_ros.cli train "config/train/default_stage$1.yaml" \
        --override "output_dir=$RUN" --override "time_limit_minutes=$3" \
        --override num_workers=14 "${extra[@]}" \
        >>"$OUT/train.log" 2>&1
    echo "=== train-stage$1: exit $? with $(left)s left"
}
train 1 "$stage1_s" "$stage1_minutes" &
stage1=$!

fixture=test/fixtures/stark_parity.npz
for dtype in float32 float16 bfloat16; do
    step "parity-$dtype" 60 "$PYTHON" -m stt_tracker_ros.cli parity "$fixture" --device cuda \
        --dtype "$dtype"
done
step gpu-tests 150 "$PYTHON" -m pytest -q -m gpu -rA test/model test/tracking test/export

wait "$stage1"
train 2 110 1.0
for stage in 1 2; do
    newest=$("$PYTHON" -c 'import sys
from stt_tracker_ros.training.checkpoints import latest_checkpoint, stage_dir
print(latest_checkpoint(stage_dir(sys.argv[1], int(sys.argv[2]))) or "")' "$RUN" "$stage")
    if [[ -n $newest ]]; then
        step "export-stage$stage" 30 "$PYTHON" -m stt_tracker_ros.cli convert "$newest" \
            "$OUT/stage$stage.safetensors" --half
        cp "$RUN/stage$stage/log.csv" "$OUT/stage${stage}_log.csv"
    fi
done

bench=("$PYTHON" benchmarks/bench_tracker.py --device cuda --frames 200 --warmup 20)
step bench-640 150 "${bench[@]}" --backends eager fast fast-half graph graph-half \
    compiled-graph-half
step bench-1080 30 "${bench[@]}" --size 1920x1080 --backends eager graph-half
step bench-16-targets 30 "${bench[@]}" --targets 16 --backends eager fast-half graph-half
step bench-lite 25 "${bench[@]}" --model-config config/models/stark_st_lite0.yaml \
    --backends eager fast-half graph-half
profile=("$PYTHON" benchmarks/profile_tracker.py --device cuda --frames 50 --warmup 10)
step profile-graph-half 30 "${profile[@]}" --backend graph-half
step profile-16-targets 30 "${profile[@]}" --backend fast-half --targets 16
echo "=== done after $(($(date +%s) - START))s"
