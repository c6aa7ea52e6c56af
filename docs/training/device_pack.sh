#!/usr/bin/env bash
# Build the pack that docs/training/gpu_train_real.sh trains from on a lent GPU machine (docs/training/DEVICE.md).
#
#   bash docs/training/device_pack.sh        # here, on the CPU machine, once (~3 min with the prepare step)
#
# .gpu/a (~52 MB): the PyAV wheel for the device's Python 3.12 (x264 for the real degradation's H.264; the device
#                  image has no av), the training set's landmarks and manifest, 200 celeba1000 faces for validation,
#                  and the grown network's best CPU-trained weights as init.safetensors (INIT_WEIGHTS; 10 MB, too
#                  large to travel in the slimmed tree beside the crops), which the train call starts from.
# .gpu/b (~57 MB): the training face crops.
# Each half stays under the device tool's 64 MiB a call beside the slimmed tree (device_tree.sh), which is why
# there are two: the first call unpacks .gpu/a, the second .gpu/b on the same warm machine, then trains.
set -euo pipefail
SHARED="${VIDFSR_SHARED:-../shared}"
# A set of its own at JPEG quality 84: `vidfsr prepare`'s default (90) makes the crops 69.5 MB zipped, over the
# device tool's 64 MiB a call (session 30); at 84 they are ~57 MB.
DATA="${DATA:-data/faces128_q84}"
AV_VERSION="${AV_VERSION:-19.0.2}"
# The first of these that exists: the shipped grown weights, else the CPU run's latest export (session 29-30).
INIT_WEIGHTS="${INIT_WEIGHTS:-}"
for w in vidfsr/weights/fsrnet_real_grown.safetensors checkpoints/real_grown_v5/final.safetensors; do
    [ -n "$INIT_WEIGHTS" ] || [ ! -f "$w" ] || INIT_WEIGHTS="$w"
done
[ -f "$DATA/dataset.json" ] || vidfsr prepare "$SHARED/data/faces/train" "$DATA" --quality 84
rm -rf .gpu /tmp/vidfsr_pack_val && mkdir -p .gpu/a .gpu/b /tmp/vidfsr_pack_val/val/HR
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/a "av==$AV_VERSION"
find "$SHARED/data/faces/test/celeba1000/HR" -name '*.jpg' | sort | sed -n '1,200p' | xargs cp -t /tmp/vidfsr_pack_val/val/HR
case "$INIT_WEIGHTS" in "" | none) ;; *) cp "$INIT_WEIGHTS" .gpu/a/init.safetensors ;; esac
tar cf .gpu/a/meta.tar -C "$DATA" landmarks.npy manifest.csv dataset.json DATASET.md -C /tmp/vidfsr_pack_val val
# A zip (stored: JPEGs do not shrink) instead of a tar: tar's 512-byte headers and padding would add ~9 MB.
python3 - "$DATA" <<'PY'
import sys, zipfile
from pathlib import Path
with zipfile.ZipFile(".gpu/b/crops.zip", "w", zipfile.ZIP_STORED) as z:
    for f in sorted(Path(sys.argv[1], "crops").glob("*.jpg")):
        z.write(f, f"crops/{f.name}")
PY
du -sh .gpu/a .gpu/b
# Each half travels beside the slimmed tree (~3 MB) within 64 MiB: say so here, not on the device.
for f in .gpu/a .gpu/b; do
    size=$(du -cb "$f" | tail -1 | cut -f1)
    [ "$size" -lt 62000000 ] || { echo "$f is $size bytes: over what a device call carries beside the tree" >&2; exit 1; }
done
