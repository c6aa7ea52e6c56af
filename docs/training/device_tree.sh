#!/usr/bin/env bash
# Slim the working tree the device tool sends (tracked files and untracked ones git does not ignore, 64 MiB a
# call with what is carried), and put it back (docs/training/DEVICE.md).
#
#   bash docs/training/device_tree.sh slim      # before the device calls: only the code travels
#   bash docs/training/device_tree.sh restore   # after them, before anything is committed
#
# The committed checkpoints, benchmark results and model cards (~250 MB) are taken out of git's index and
# ignored through .git/info/exclude, so they stay on disk but do not travel; restore puts the index back as
# HEAD has it and drops the exclude lines. Nothing is deleted and nothing is committed.
set -euo pipefail
EXCLUDE="$(git rev-parse --git-dir)/info/exclude"
MARK="# device_tree.sh slim"
HEAVY=(checkpoints benchmarks/results vidfsr/weights BENCHMARKS.md)
case "${1:-}" in
slim)
    if grep -q "^$MARK" "$EXCLUDE" 2>/dev/null; then echo "already slim"; exit 0; fi
    git diff --cached --quiet || { echo "the index holds staged changes: commit or unstage them first" >&2; exit 2; }
    git rm -r -q --cached "${HEAVY[@]}"
    # The shipped lite weights travel: the grown model starts from them (gpu_train_real.sh's INIT).
    git add -f vidfsr/weights/fsrnet_lite_real.safetensors
    { echo "$MARK"; for p in "${HEAVY[@]}"; do echo "/$p"; done; echo "$MARK end"; } >> "$EXCLUDE"
    echo "travels: $(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1) bytes tracked"
    ;;
restore)
    sed -i "/^$MARK\$/,/^$MARK end\$/d" "$EXCLUDE"
    git reset -q -- "${HEAVY[@]}"
    git status --short | head -5
    ;;
*)
    echo "usage: $0 slim|restore" >&2
    exit 2
    ;;
esac
