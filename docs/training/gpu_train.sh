#!/usr/bin/env bash
# Train the paper FSRNet (x8) on a lent GPU machine from the prepared training pack, resumably.
#
# Here (CPU machine), once:
#   vidfsr prepare ../shared/data/faces/train data/pack --quality 84
#   mkdir -p pack && tar czf pack/pack.tgz -C data/pack crops landmarks.npy manifest.csv dataset.json DATASET.md
#   mkdir -p data/val/HR data/val/LR_x8 && for f in $(ls ../shared/data/faces/test/celeba1000/HR | head -200); do
#     cp ../shared/data/faces/test/celeba1000/HR/$f data/val/HR/; cp ../shared/data/faces/test/celeba1000/LR_x8/$f data/val/LR_x8/; done
#   tar czf pack/val.tgz -C data val        # 200 official test faces, for the logged validation PSNR only
# Then with the device tool:  run(command="bash docs/training/gpu_train.sh", carry=["pack"])
# Weights, logs and the checkpoint come back under $OUT; commit the weights with their card
# (python benchmarks/model_card.py ...) and keep last.pt to resume with RESUME=path/to/last.pt.
#
# The GPU machine has torch, numpy, opencv, scipy, safetensors and rich, but not av or filterpy: the package is
# put on PYTHONPATH instead of pip-installed, and training imports neither.
set -euo pipefail
OUT="${OUT:-runs/gpu}"
STEPS="${STEPS:-60000}"
SECONDS_BUDGET="${SECONDS_BUDGET:-480}"
mkdir -p "$OUT" /tmp/vidfsr_src/vidfsr /tmp/pack
tar xzf pack/pack.tgz -C /tmp/pack
tar xzf pack/val.tgz -C /tmp
# The layout the installed package has: vidfsr/, vidfsr/models, vidfsr/pipelines.
cp -r vidfsr/* /tmp/vidfsr_src/vidfsr/
cp -r models /tmp/vidfsr_src/vidfsr/models
cp -r pipelines /tmp/vidfsr_src/vidfsr/pipelines
export PYTHONPATH=/tmp/vidfsr_src
RESUME_ARG=()
[ -n "${RESUME:-}" ] && RESUME_ARG=(--resume "$RESUME")
# Stop cleanly before the device budget ends: the loop checkpoints every 500 steps and on exit.
timeout --signal=INT --kill-after=60 "$SECONDS_BUDGET" python -m vidfsr.cli train --model fsrnet_x8 --data /tmp/pack --out "$OUT" \
    --steps "$STEPS" --loss paper --batch-size 14 --val-every 1000 --ckpt-every 500 --precision bf16 \
    --val-hr /tmp/val/HR --val-lr /tmp/val/LR_x8 --val-images 200 "${RESUME_ARG[@]}" || true
ls -la "$OUT"
