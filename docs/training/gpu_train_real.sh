#!/usr/bin/env bash
# Train the paper-size real-world model (fsrnet_real_grown from the shipped lite weights, or fsrnet_real) on a lent
# GPU machine (docs/training/DEVICE.md).
#
#   bash docs/training/gpu_train_real.sh stage    # device call 1, carry [".gpu/a"]: PyAV, landmarks, validation faces
#   bash docs/training/gpu_train_real.sh train    # device call 2 on the same warm machine, carry [".gpu/b"]
#   bash docs/training/gpu_train_real.sh check    # here: the same steps on the CPU for CHECK_SECONDS (default 90)
#
# The stage call unpacks into .gpu_site/ and .gpu_data/ (git-ignored, so the device keeps them between calls while
# the machine stays warm); the train call adds the crops and trains until SECONDS_BUDGET, then stops cleanly
# (SIGINT: checkpoint and weights are written). Into $OUT: the exported weights (the weight average), the log,
# the validation history, and the checkpoint split into parts under the tool's 16 MiB a file (join them with
# `cat last.pt.part-* > last.pt`; resume on the CPU with `vidfsr train ... --resume last.pt`).
set -euo pipefail
MODE="${1:-}"
OUT="${OUT:-runs/gpu_real}"
# Where the grown network starts: the pack's init.safetensors (its CPU-trained weights, device_pack.sh) when the
# stage call unpacked one, else the shipped lite weights grown into it (same output at step 0). Either way the
# budget goes into what the capacity adds, not into catching up. MODEL=fsrnet_real INIT= LR=2.5e-4 trains the
# paper's two-hourglass network from scratch instead.
MODEL="${MODEL:-fsrnet_real_grown}"
INIT="${INIT-auto}"
SECONDS_BUDGET="${SECONDS_BUDGET:-420}"
BATCH="${BATCH:-32}"
# 5e-5 continues trained grown weights at the rate their CPU run used (batch 14); 1e-4 for weights still to grow.
LR="${LR:-auto}"
WORKERS="${WORKERS:-14}"
# Upright faces, as the pipeline shows them (session 23: +0.03-0.04 dB validation for the lite network against the
# paper's quarter turns; AUGMENT=paper for those).
AUGMENT="${AUGMENT:-flip}"
# How the image terms measure errors, the optimiser and the plain term's weight: v5's recipe (session 26; see
# DEVICE.md). PIXEL_LOSS=l2 OPTIMIZER=rmsprop RAW_WEIGHT=0.3 is v3/v4's.
PIXEL_LOSS="${PIXEL_LOSS:-charbonnier}"
OPTIMIZER="${OPTIMIZER:-adam}"
RAW_WEIGHT="${RAW_WEIGHT:-0.1}"
mkdir -p "$OUT"

layout() {
    # The installed package's layout (vidfsr, vidfsr.models, vidfsr.pipelines) without pip installing it.
    rm -rf /tmp/vidfsr_src && mkdir -p /tmp/vidfsr_src/vidfsr
    cp -r vidfsr/* /tmp/vidfsr_src/vidfsr/
    cp -r models /tmp/vidfsr_src/vidfsr/models
    cp -r pipelines /tmp/vidfsr_src/vidfsr/pipelines
    export PYTHONPATH="/tmp/vidfsr_src:$PWD/.gpu_site${PYTHONPATH:+:$PYTHONPATH}"
}

unpack_stage() {
    rm -rf .gpu_site .gpu_data && mkdir -p .gpu_site .gpu_data/faces128
    # (The check here runs on this machine's own PyAV: the wheel is for the device's Python 3.12.)
    [ "$MODE" = check ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target .gpu_site .gpu/a/av-*.whl
    tar xf .gpu/a/meta.tar -C .gpu_data
    [ ! -f .gpu/a/init.safetensors ] || cp .gpu/a/init.safetensors .gpu_data/init.safetensors
    mv .gpu_data/landmarks.npy .gpu_data/manifest.csv .gpu_data/dataset.json .gpu_data/DATASET.md .gpu_data/faces128/
}

unpack_crops() {
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" .gpu/b/crops.zip .gpu_data/faces128
}

smoke() {
    # What the run needs, in one line each: the GPU, PyAV's x264, the package.
    python3 - <<'PY' 2>&1 | tee -a "$OUT/stage.txt"
import time
import numpy as np
import torch
import vidfsr.models.train  # noqa: F401  (the training stack imports)
from vidfsr.models.realdeg import h264_roundtrip

print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
rng = np.random.default_rng(0)
faces = [rng.integers(0, 255, (40, 40, 3), dtype=np.uint8) for _ in range(14)]
t = time.perf_counter()
coded, frame = h264_roundtrip(faces, 28, "medium", rng)
error = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(faces, coded)])
print(f"x264 on 14 faces: {(time.perf_counter() - t) * 1000:.0f} ms, {frame}-frame, mean error {error:.1f}")
PY
}

train_run() {
    local device="$1" workers="$2" budget="$3"
    if [ "$INIT" = auto ]; then
        INIT=vidfsr/weights/fsrnet_lite_real.safetensors
        [ "$MODEL" != fsrnet_real_grown ] || [ ! -f .gpu_data/init.safetensors ] || INIT=.gpu_data/init.safetensors
    fi
    if [ "$LR" = auto ]; then
        LR=1e-4
        [ "$INIT" != .gpu_data/init.safetensors ] || LR=5e-5
    fi
    echo "init ${INIT:-none}, lr $LR" | tee -a "$OUT/stage.txt"
    rm -rf /tmp/vidfsr_run  # a run of its own: its log is appended to, not started afresh
    # SIGINT ends the run cleanly (checkpoint and weights written); the KILL after 60 s only if that hangs.
    timeout --signal=INT --kill-after=60 "$budget" python3 -m vidfsr.cli train --model "$MODEL" \
        --data .gpu_data/faces128 --out /tmp/vidfsr_run --degradation real --real-sides 12 80 \
        --loss projected --raw-weight "$RAW_WEIGHT" --ema 0.999 --batch-size "$BATCH" --lr "$LR" --steps 1000000 \
        --augment "$AUGMENT" --pixel-loss "$PIXEL_LOSS" --optimizer "$OPTIMIZER" \
        --workers "$workers" --prefetch 2 --device "$device" --val-hr .gpu_data/val/HR --val-images 200 \
        --val-every 1000 --ckpt-every 500 --log-every 100 ${RESUME:+--resume "$RESUME"} ${INIT:+--init "$INIT"} \
        > "$OUT/train_stdout.txt" 2>&1 || true
    tail -5 "$OUT/train_stdout.txt"
    cp /tmp/vidfsr_run/final.safetensors /tmp/vidfsr_run/train_log.csv /tmp/vidfsr_run/val_history.json "$OUT/" || true
    split -b 15M /tmp/vidfsr_run/last.pt "$OUT/last.pt.part-" || true
    ls -la "$OUT"
}

case "$MODE" in
stage)
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    # The workers hand batches over through shared memory (~45 MB a batch of 32 with its prior maps, 2 ahead each).
    df -h /dev/shm || true
    unpack_stage
    layout
    smoke
    ;;
train)
    [ -d .gpu_site/av ] && [ -f .gpu_data/faces128/landmarks.npy ] || {
        echo "no staged pack here: the machine is fresh; run the stage call first, then this one at once" >&2
        exit 3
    }
    unpack_crops
    layout
    train_run cuda "$WORKERS" "$SECONDS_BUDGET"
    ;;
check)
    # Here, on the CPU: the two calls' steps from a local .gpu/, with a short budget and two workers.
    unpack_stage
    unpack_crops
    layout
    smoke
    train_run cpu 2 "${CHECK_SECONDS:-90}"
    ;;
*)
    echo "usage: $0 stage|train|check" >&2
    exit 2
    ;;
esac
