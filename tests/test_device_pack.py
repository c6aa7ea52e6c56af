"""The device plan (docs/training/DEVICE.md): the tree the device tool sends must fit its 64 MiB a call beside
the larger half of the pack, and putting the tree back must leave the checkout as it was."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 64 * 2**20  # the device tool's working tree plus carried paths, a call
CROPS_ZIP = 58 * 10**6  # .gpu/b: the 13,163 prepared crops stored in a zip (57.4 MB measured, session 20)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _travelling_bytes(repo: Path) -> int:
    """Tracked files and untracked ones git does not ignore: what the device tool copies."""
    names = _git(repo, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    return sum((repo / n).stat().st_size for n in names if n and (repo / n).is_file())


def test_the_slimmed_tree_fits_a_device_call_beside_the_crops_and_restores(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--local", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    # The script as the checkout has it (a change not yet committed is what is being tested).
    shutil.copy(ROOT / "docs/training/device_tree.sh", clone / "docs/training/device_tree.sh")
    _git(clone, "update-index", "--assume-unchanged", "docs/training/device_tree.sh")
    before = _travelling_bytes(clone)
    assert before > LIMIT, "the whole tree fits now: the slimming step (and this test) can go"
    subprocess.run(["bash", "docs/training/device_tree.sh", "slim"], cwd=clone, check=True, capture_output=True)
    slim = _travelling_bytes(clone)
    assert slim + CROPS_ZIP < LIMIT, f"the slimmed tree ({slim} bytes) no longer fits beside the crops"
    tracked = set(_git(clone, "ls-files").split())
    for needed in ("models/train.py", "pipelines/blend.py", "vidfsr/cli.py", "docs/training/gpu_train_real.sh",
                   "vidfsr/weights/fsrnet_lite_real.safetensors"):  # fmt: skip
        assert needed in tracked, needed  # the code the device runs still travels
    assert not any(n.startswith(("checkpoints/", "benchmarks/results/")) for n in tracked)
    assert not any(n.startswith("vidfsr/weights/") and n.endswith(".png") for n in tracked)
    assert (clone / "checkpoints").is_dir()  # nothing deleted from disk
    subprocess.run(["bash", "docs/training/device_tree.sh", "restore"], cwd=clone, check=True, capture_output=True)
    assert _git(clone, "status", "--porcelain") == ""
    assert _travelling_bytes(clone) == before
