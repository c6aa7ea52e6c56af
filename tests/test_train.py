"""Training stack: overfitting real faces, exact resume, weights export, multi-process replicas."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from vidfsr.models.io import load_model, read_metadata, save_weights
from vidfsr.models.prepare import PrepareConfig, prepare
from vidfsr.models.realdeg import RealDegradation
from vidfsr.models.registry import create_model
from vidfsr.models.train import TrainConfig, load_checkpoint, train

from vidfsr.cli import main
from vidfsr.errors import ConfigError

TINY = {"channels": 8, "coarse_blocks": 1, "encoder_blocks": 1, "decoder_blocks": 1, "prior_channels": 16}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """Eight real faces prepared by the project's own data preparation."""
    src = tmp_path_factory.mktemp("src")
    for p in sorted((shared / "data/faces/train/celeba").glob("*.jpg"))[:8]:
        shutil.copy(p, src / p.name)
    out = tmp_path_factory.mktemp("prepared")
    summary = prepare([src], out, PrepareConfig(workers=1))
    assert summary["accepted"] >= 6
    return out


def _cfg(prepared: Path, out: Path, **kw) -> TrainConfig:
    base = {"model": "fsrnet_lite_x8", "model_overrides": TINY, "data": str(prepared), "out": str(out),
            "steps": 6, "batch_size": 4, "log_every": 1, "ckpt_every": 3, "val_images": 0, "threads": 1,
            "precision": "fp32", "channels_last": False}  # fmt: skip
    return TrainConfig.from_dict({**base, **kw})


def _losses(run: Path) -> list[float]:
    with open(run / "train_log.csv") as f:
        return [float(r["total"]) for r in csv.DictReader(f)]


def test_tiny_model_overfits_real_faces(prepared: Path, tmp_path: Path) -> None:
    cfg = _cfg(prepared, tmp_path / "run", steps=80, lr=1e-3, batch_size=6, data_limit=6, ckpt_every=1000)
    train(cfg)
    losses = _losses(tmp_path / "run")
    first, last = np.mean(losses[:3]), np.mean(losses[-10:])
    assert last < first / 10, losses


def test_resume_is_exact(prepared: Path, tmp_path: Path) -> None:
    straight = train(_cfg(prepared, tmp_path / "a"))
    train(_cfg(prepared, tmp_path / "b", steps=3))
    resumed = train(_cfg(prepared, tmp_path / "b"), resume=tmp_path / "b" / "last.pt")
    assert straight["steps"] == resumed["steps"] == 6
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    a, b = load_checkpoint(tmp_path / "a/last.pt"), load_checkpoint(tmp_path / "b/last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["state"] == b["state"]


def test_resume_is_exact_with_the_real_degradation(prepared: Path, tmp_path: Path) -> None:
    """The degradation's random state (sizes, kernels, CRFs) is checkpointed past the prefetched batches."""
    straight = train(_cfg(prepared, tmp_path / "a", degradation="real", model="fsrnet_lite_real"))
    train(_cfg(prepared, tmp_path / "b", steps=3, degradation="real", model="fsrnet_lite_real"))
    resumed = train(_cfg(prepared, tmp_path / "b", degradation="real", model="fsrnet_lite_real"),
                    resume=tmp_path / "b" / "last.pt")  # fmt: skip
    assert straight["steps"] == resumed["steps"] == 6
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    meta = read_metadata(straight["weights"])
    assert json.loads(meta["native_sides"]) == [12, 64] and json.loads(meta["degradation"])["name"] == "real"
    train(_cfg(prepared, tmp_path / "c", steps=3))
    with pytest.raises(Exception, match="paper degradation"):
        train(_cfg(prepared, tmp_path / "c", steps=6, degradation="real"), resume=tmp_path / "c" / "last.pt")


def test_worker_processes_give_the_same_batches_for_any_count_and_resume_exactly(
    prepared: Path, tmp_path: Path
) -> None:
    """Batches assembled by worker processes (a GPU's feed) are a function of the run's seed alone: one worker
    or two, straight or resumed, the run is the same; and each batch is degraded afresh."""
    real = {"degradation": "real", "model": "fsrnet_lite_real"}
    one = train(_cfg(prepared, tmp_path / "a", workers=1, **real))
    train(_cfg(prepared, tmp_path / "b", workers=2, steps=3, **real))
    resumed = train(_cfg(prepared, tmp_path / "b", workers=2, **real), resume=tmp_path / "b" / "last.pt")
    assert one["steps"] == resumed["steps"] == 6
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    a, b = load_checkpoint(tmp_path / "a/last.pt"), load_checkpoint(tmp_path / "b/last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["rng"]["batch_seeds"] and "degrade" not in a["rng"]
    # Resumed without workers, the checkpoint's way of drawing goes on: still the same run.
    train(_cfg(prepared, tmp_path / "c", workers=1, steps=3, **real))
    train(_cfg(prepared, tmp_path / "c", **real), resume=tmp_path / "c" / "last.pt")
    assert _losses(tmp_path / "a") == _losses(tmp_path / "c")
    # Each batch has its own degradation: the same faces in two batches get different inputs.
    from vidfsr.models.dataset_format import load_prepared
    from vidfsr.models.train import real_degradation_config
    from vidfsr.models.train_data import TrainBatches

    cfg = _cfg(prepared, tmp_path / "d", **real)
    data = TrainBatches(load_prepared(prepared, "train"), 4, 64, real=RealDegradation(real_degradation_config(cfg)))
    index, ops = torch.arange(4), torch.zeros(4, dtype=torch.int64)
    x1, x2, x1_again = (data.batch(index, ops, None, [s, 0])[0] for s in (1, 2, 1))
    assert torch.equal(x1, x1_again) and not torch.equal(x1, x2)


def test_a_failing_batch_worker_stops_the_run_with_its_error(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process that fails re-raises in the training loop (it must never hang the run)."""
    from vidfsr.models.train_data import TrainBatches

    original = TrainBatches.batch

    def failing(self, index, ops, seeds=None, degrade_seed=None):
        if int(index[0]) == int(self.failing_at):
            raise ValueError("a corrupt face in the batch")
        return original(self, index, ops, seeds, degrade_seed)

    # The workers are forked from this process: they inherit the patched method.
    monkeypatch.setattr(TrainBatches, "batch", failing)
    monkeypatch.setattr(TrainBatches, "failing_at", 0, raising=False)
    with pytest.raises(ValueError, match="corrupt face"):
        train(_cfg(prepared, tmp_path / "f", workers=2, steps=50, batch_size=1, ckpt_every=1000))


def test_real_sides_set_the_training_range_and_the_metadata(prepared: Path, tmp_path: Path) -> None:
    """A widened LR side range reaches the degradation (every drawn side inside it) and the weights' metadata."""
    from vidfsr.models.train import real_degradation_config

    cfg = _cfg(prepared, tmp_path / "w", steps=2, degradation="real", model="fsrnet_lite_real", real_sides=[48, 96])
    deg = RealDegradation(real_degradation_config(cfg), seed=3)
    sides = [deg.draw_side() for _ in range(200)]
    assert 48 <= min(sides) < 56 and 88 < max(sides) <= 96
    meta = read_metadata(train(cfg)["weights"])
    assert json.loads(meta["native_sides"]) == [48, 96]
    assert json.loads(meta["degradation"])["lr_sides"] == [48, 96]
    with pytest.raises(ConfigError, match="real_sides"):
        _cfg(prepared, tmp_path / "x", real_sides=[96, 48])


def test_real_h264_share_and_crfs_reach_the_degradation_and_the_metadata(prepared: Path, tmp_path: Path) -> None:
    """A compression specialist: the H.264 share and CRF range given to train are the ones drawn and recorded."""
    from vidfsr.models.train import real_degradation_config

    cfg = _cfg(prepared, tmp_path / "w", steps=2, degradation="real", model="fsrnet_lite_real", real_h264=0.85,
               real_crf=[26, 34])  # fmt: skip
    deg = real_degradation_config(cfg)
    assert (deg.h264_prob, deg.crf) == (0.85, (26, 34))
    meta = json.loads(read_metadata(train(cfg)["weights"])["degradation"])
    assert (meta["h264_prob"], meta["crf"]) == (0.85, [26, 34])
    with pytest.raises(ConfigError, match="real_h264"):
        _cfg(prepared, tmp_path / "x", real_h264=0.9)  # with the 15% JPEG faces, over one
    with pytest.raises(ConfigError, match="real_crf"):
        _cfg(prepared, tmp_path / "x", real_crf=[30, 60])


def test_stream_clips_reach_the_degradation_and_the_metadata(prepared: Path, tmp_path: Path) -> None:
    from vidfsr.models.train import real_degradation_config

    cfg = _cfg(prepared, tmp_path / "w", steps=2, degradation="real", model="fsrnet_lite_real",
               real_h264_frames=[3, 8], real_h264_files=0.5)  # fmt: skip
    deg = real_degradation_config(cfg)
    assert (deg.h264_frames, deg.h264_file_share) == ((3, 8), 0.5)
    meta = json.loads(read_metadata(train(cfg)["weights"])["degradation"])
    assert (meta["h264_frames"], meta["h264_file_share"]) == ([3, 8], 0.5)
    with pytest.raises(ConfigError, match="real_h264_frames"):
        _cfg(prepared, tmp_path / "x", real_h264_frames=[1, 8])
    with pytest.raises(ConfigError, match="real_h264_files"):
        _cfg(prepared, tmp_path / "x", real_h264_files=2.0)


def test_a_lossless_source_model_sees_no_noise_or_compression(prepared: Path, tmp_path: Path) -> None:
    """``real_noise``, ``real_jpeg`` and ``real_h264`` at 0: the faces drawn are only downscaled (and blurred),
    and the weights say so."""
    import numpy as np
    from vidfsr.models.realdeg import RealDegradation
    from vidfsr.models.train import real_degradation_config

    cfg = _cfg(prepared, tmp_path / "w", steps=2, degradation="real", model="fsrnet_lite_real", real_h264=0.0,
               real_noise=0.0, real_jpeg=0.0)  # fmt: skip
    deg = RealDegradation(real_degradation_config(cfg), seed=3)
    hr = np.random.default_rng(0).integers(0, 256, (64, 128, 128, 3), dtype=np.uint8)
    _, info = deg.degrade_batch(hr)
    assert {(d.noise, d.compression) for d in info} == {(0.0, "none")}
    assert len({d.kernel for d in info}) > 1
    meta = json.loads(read_metadata(train(cfg)["weights"])["degradation"])
    assert (meta["noise_prob"], meta["jpeg_prob"], meta["h264_prob"]) == (0.0, 0.0, 0.0)
    with pytest.raises(ConfigError, match="real_noise"):
        _cfg(prepared, tmp_path / "x", real_noise=1.5)
    with pytest.raises(ConfigError, match="real_jpeg"):
        _cfg(prepared, tmp_path / "x", real_jpeg=-0.1)


def test_projected_loss_trains_with_each_faces_side_and_share(prepared: Path, tmp_path: Path) -> None:
    """``--loss projected``: the batches carry each face's LR side and the share the pipeline would use (full on
    uncompressed faces, 0.75 on compressed ones), training runs, and the combinations it cannot serve are refused."""
    from vidfsr.models.dataset_format import load_prepared
    from vidfsr.models.realdeg import RealDegradation
    from vidfsr.models.train import real_degradation_config
    from vidfsr.models.train_data import TrainBatches

    cfg = _cfg(prepared, tmp_path / "w", steps=2, degradation="real", model="fsrnet_lite_real", loss="projected",
               real_h264=0.5)  # fmt: skip
    real = RealDegradation(real_degradation_config(cfg), 5)
    data = TrainBatches(load_prepared(str(prepared), "train"), 4, 32, real=real, projection=True)
    seen_shares = set()
    for _ in range(6):
        lr_up, hr, _, _, sides, shares = data.batch(torch.arange(4), torch.zeros(4, dtype=torch.long))
        assert lr_up.shape == hr.shape and sides.shape == shares.shape == (4,)
        assert ((sides >= 12) & (sides <= 80)).all()
        seen_shares |= set(shares.tolist())
    assert seen_shares == {1.0, 0.75}
    assert "weights" in train(cfg)
    with pytest.raises(ConfigError, match="projected"):
        _cfg(prepared, tmp_path / "x", loss="projected")  # the paper degradation has no per-face side
    with pytest.raises(ConfigError, match="projected"):
        _cfg(prepared, tmp_path / "x", loss="projected", degradation="real", stability_weight=0.1)
    with pytest.raises(ConfigError, match="raw-weight"):
        _cfg(prepared, tmp_path / "x", raw_weight=0.3)  # only beside the projected term


def test_glasses_are_drawn_around_the_eyes_thin_and_seeded(prepared: Path) -> None:
    """Synthetic frames land on the eye band of a real face (not on the mouth), stay thin (most of the face is
    untouched), and the same seed draws the same frames while another seed draws other ones."""
    from vidfsr.models.dataset_format import load_prepared
    from vidfsr.models.glasses import draw_glasses

    faces = load_prepared(str(prepared), "train")
    for image, lm in zip(faces.images, faces.landmarks.astype(np.float64), strict=True):
        out = draw_glasses(image, lm, np.random.default_rng(1))
        assert out.shape == image.shape and out.dtype == np.uint8 and not np.shares_memory(out, image)
        changed = np.abs(out.astype(int) - image).max(axis=2) > 8
        rows = np.nonzero(changed.any(axis=1))[0]
        eyes_y, mouth_y = lm[36:48, 1].mean(), lm[48:68, 1].min()
        assert changed.sum() > 60, "no frame drawn"
        assert changed.mean() < 0.2, "a frame, not a mask"
        assert rows.min() < eyes_y < rows.max()  # the lenses ring the eyes
        assert not changed[int(np.ceil(mouth_y)) :].any(), "nothing at or below the mouth"
        again = draw_glasses(image, lm, np.random.default_rng(1))
        other = draw_glasses(image, lm, np.random.default_rng(2))
        assert np.array_equal(out, again) and not np.array_equal(out, other)


def test_glasses_share_reaches_the_batches_resumes_exactly_and_is_recorded(prepared: Path, tmp_path: Path) -> None:
    """``--glasses P``: every HR face wears frames with a share of 1, none with 0;
    a resumed run draws the same frames (the seeds come from the checkpointed augmentation stream); the weights'
    metadata says so; a share outside [0, 1] is refused."""
    from vidfsr.models.dataset_format import load_prepared
    from vidfsr.models.train_data import TrainBatches

    faces = load_prepared(str(prepared), "train")
    n = len(faces.images)
    index, ops, seeds = torch.arange(n), torch.zeros(n, dtype=torch.long), torch.arange(n) + 100
    _, plain, _, _ = TrainBatches(faces, 8, 64).batch(index, ops, seeds)
    for share, expect in ((1.0, n), (0.0, 0)):
        _, hr, _, _ = TrainBatches(faces, 8, 64, glasses=share).batch(index, ops, seeds)
        worn = [bool((hr[i] - plain[i]).abs().amax() > 8 / 255) for i in range(n)]
        assert sum(worn) == expect
    with pytest.raises(ValueError, match="seed"):
        TrainBatches(faces, 8, 64, glasses=0.5).batch(index, ops)
    kw = {"degradation": "real", "model": "fsrnet_lite_real", "glasses": 0.5}
    straight = train(_cfg(prepared, tmp_path / "a", **kw))
    train(_cfg(prepared, tmp_path / "b", steps=3, **kw))
    train(_cfg(prepared, tmp_path / "b", **kw), resume=tmp_path / "b" / "last.pt")
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert json.loads(read_metadata(straight["weights"])["training"])["glasses"] == 0.5
    without = train(_cfg(prepared, tmp_path / "n", degradation="real", model="fsrnet_lite_real"))
    assert _losses(tmp_path / "a") != _losses(tmp_path / "n")
    assert "glasses" not in json.loads(read_metadata(without["weights"])["training"])
    with pytest.raises(ConfigError, match="glasses"):
        _cfg(prepared, tmp_path / "x", glasses=1.5)


def test_clear_glasses_are_pale_see_through_rims_recorded_and_leave_coloured_frames_alone(
    prepared: Path, tmp_path: Path
) -> None:
    """Clear frames (``--glasses-clear Q``): around the eyes, the face still showing through a pale band (never
    brighter than the band's near-white, never the band's colour painted over), its edges darker than the skin;
    a share of 1 draws every framed face clear and a share of 0 leaves a run's coloured frames as they were; the
    metadata says so; a clear share without frames is refused."""
    from vidfsr.models.dataset_format import load_prepared
    from vidfsr.models.glasses import CLEAR_COLOUR, draw_glasses
    from vidfsr.models.train_data import TrainBatches

    faces = load_prepared(str(prepared), "train")
    for image, lm in zip(faces.images, faces.landmarks.astype(np.float64), strict=True):
        out = draw_glasses(image, lm, np.random.default_rng(3), clear=True)
        diff = out.astype(int) - image
        changed = np.abs(diff).max(axis=2) > 4
        rows = np.nonzero(changed.any(axis=1))[0]
        assert changed.sum() > 40 and changed.mean() < 0.2
        assert rows.min() < lm[36:48, 1].mean() < rows.max()
        assert not changed[int(np.ceil(lm[48:68, 1].min())) :].any()
        assert out.max() <= max(int(image.max()), max(CLEAR_COLOUR[1]) + 12)  # pale, never a glare
        assert (diff.sum(axis=2) < -6).any(), "the rims' edges darken the face"
        # see-through: no pixel goes more than ~60% of the way to the band's colour (opaque frames go all the way)
        room = max(CLEAR_COLOUR[1]) - image.mean(axis=2)
        dark = room > 40
        assert (diff.mean(axis=2)[dark] / room[dark]).max() < 0.7
    n = len(faces.images)
    index, ops, seeds = torch.arange(n), torch.zeros(n, dtype=torch.long), torch.arange(n) + 100
    _, coloured, _, _ = TrainBatches(faces, 8, 64, glasses=1.0).batch(index, ops, seeds)
    _, none_clear, _, _ = TrainBatches(faces, 8, 64, glasses=1.0, glasses_clear=0.0).batch(index, ops, seeds)
    _, all_clear, _, _ = TrainBatches(faces, 8, 64, glasses=1.0, glasses_clear=1.0).batch(index, ops, seeds)
    assert torch.equal(coloured, none_clear)
    assert all(not torch.equal(all_clear[i], coloured[i]) for i in range(n))
    done = train(_cfg(prepared, tmp_path / "c", degradation="real", model="fsrnet_lite_real", steps=2,
                      glasses=0.5, glasses_clear=0.5))  # fmt: skip
    assert json.loads(read_metadata(done["weights"])["training"])["glasses_clear"] == 0.5
    with pytest.raises(ConfigError, match="glasses-clear"):
        _cfg(prepared, tmp_path / "x", glasses_clear=0.5)
    with pytest.raises(ConfigError, match="glasses-clear"):
        _cfg(prepared, tmp_path / "x", glasses=0.5, glasses_clear=2.0)


def test_weight_average_is_exported_resumes_exactly_and_is_recorded(prepared: Path, tmp_path: Path) -> None:
    """``--ema D``: the exported weights are the average the checkpoint keeps, not the last step's; a resumed run
    ends with the same average as one run straight through; the metadata says so; a decay of 1 is refused."""
    from vidfsr.models.train import export_checkpoint

    straight = train(_cfg(prepared, tmp_path / "a", ema=0.9))
    train(_cfg(prepared, tmp_path / "b", steps=3, ema=0.9))
    train(_cfg(prepared, tmp_path / "b", ema=0.9), resume=tmp_path / "b" / "last.pt")
    a, b = load_checkpoint(tmp_path / "a/last.pt"), load_checkpoint(tmp_path / "b/last.pt")
    assert a["state"]["ema_updates"] == 6
    for key, value in a["ema"].items():
        assert torch.equal(value, b["ema"][key]), key
    exported = load_file(straight["weights"])
    moved = [k for k, v in a["model"].items() if v.is_floating_point() and not torch.equal(v, a["ema"][k])]
    assert moved  # the average lags the trained weights
    for key in a["ema"]:
        assert torch.equal(exported[key], a["ema"][key]), key
    again = load_file(export_checkpoint(tmp_path / "a/last.pt", tmp_path / "again.safetensors"))
    assert all(torch.equal(again[k], exported[k]) for k in exported)
    assert json.loads(read_metadata(straight["weights"])["training"])["ema"] == 0.9
    # The average by hand, from the first step's weights: the warm-up keeps only a tenth of the start.
    one = train(_cfg(prepared, tmp_path / "c", steps=1, ema=0.9))
    init = train(_cfg(prepared, tmp_path / "d", steps=0))
    c = load_checkpoint(tmp_path / "c/last.pt")
    start = load_file(init["weights"])
    for key, value in c["ema"].items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.1 * start[key] + 0.9 * c["model"][key])
    assert load_file(one["weights"]).keys() == c["ema"].keys()
    with pytest.raises(ConfigError, match="ema"):
        _cfg(prepared, tmp_path / "x", ema=1.0)


def test_checkpoint_describes_itself(prepared: Path, tmp_path: Path) -> None:
    train(_cfg(prepared, tmp_path / "r", steps=2))
    ckpt = load_checkpoint(tmp_path / "r/last.pt")
    assert ckpt["train_config"]["model"] == "fsrnet_lite_x8"
    assert ckpt["model_config"]["channels"] == 8
    assert {"model", "optimizer", "rng", "state"} <= set(ckpt)


def test_safetensors_roundtrip(tmp_path: Path) -> None:
    model = create_model("fsrnet_lite_x4", **TINY).eval()
    path = save_weights(model, tmp_path / "w.safetensors", metrics={"psnr": 1.0}, training_data="test")
    meta = read_metadata(path)
    assert meta["scale"] == "4" and "[0,1]" in meta["input_range"] and meta["training_data"] == "test"
    loaded = load_model(path)
    assert loaded.cfg == model.cfg
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(model(x).image, loaded(x).image)


def test_train_and_eval_cli(prepared: Path, tmp_path: Path, celeba1000: Path) -> None:
    run = tmp_path / "cli"
    args = ["train", "--model", "fsrnet_lite_x8", "--data", str(prepared), "--out", str(run), "--steps", "2",
            "--batch-size", "2", "--val-images", "4", "--val-every", "2", "--threads", "1"]  # fmt: skip
    assert main(args) == 0
    weights = run / "final.safetensors"
    assert "psnr" in read_metadata(weights)["metrics"]
    out_csv = tmp_path / "eval.csv"
    save = tmp_path / "sr"
    assert main(["eval", "--model", str(weights), "--hr", str(celeba1000 / "HR"), "--limit", "3",
                 "--csv", str(out_csv), "--save", str(save), "--tta"]) == 0  # fmt: skip
    assert len(out_csv.read_text().splitlines()) == 4
    assert sorted(p.name for p in save.iterdir()) == ["201600.png", "201601.png", "201602.png"]


@pytest.mark.slow
def test_two_process_ddp_replicas_stay_identical(prepared: Path, tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(
        "import sys, numpy as np, torch\n"
        "from vidfsr.models.train import TrainConfig, train, load_checkpoint\n"
        "import torch.distributed as dist\n"
        f"cfg = TrainConfig.from_dict(dict(model='fsrnet_lite_x8', model_overrides={TINY!r}, data={str(prepared)!r},"
        f" out={str(tmp_path / 'run')!r}, steps=4, batch_size=4, val_images=0, threads=1, precision='fp32',"
        " channels_last=False, log_every=1))\n"
        "from vidfsr.models import train as T\n"
        "orig = T.create_model\n"
        "models = []\n"
        "T.create_model = lambda *a, **k: models.append(orig(*a, **k)) or models[-1]\n"
        "train(cfg)\n"
        "vec = T.model_fingerprint(models[0])\n"
        "np.save(sys.argv[1] + f'/replica{dist.get_rank()}.npy', vec)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           str(script), str(tmp_path)]  # fmt: skip
    subprocess.run(cmd, check=True, env=env, timeout=240, capture_output=True)
    a, b = np.load(tmp_path / "replica0.npy"), np.load(tmp_path / "replica1.npy")
    start = _initial_fingerprint()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, start)  # and they did train


def _initial_fingerprint() -> np.ndarray:
    from vidfsr.models.train import model_fingerprint

    torch.manual_seed(0)
    return model_fingerprint(create_model("fsrnet_lite_x8", **TINY))


def test_fsrgan_refuses_without_vgg_weights(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidfsr.errors import ConfigError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ConfigError, match="--perceptual none"):
        train(_cfg(prepared, tmp_path / "g", gan=True))


def test_fsrgan_trains_with_conditional_discriminator(prepared: Path, tmp_path: Path) -> None:
    from vidfsr.models.fsrgan import ConditionalDiscriminator, VGG16Features

    # A VGG-16 in torchvision's state_dict layout (random weights: this checks loading and the loss path).
    vgg_file = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in VGG16Features().features.state_dict().items()}, vgg_file)
    run = tmp_path / "gan"
    summary = train(_cfg(prepared, run, gan=True, perceptual=str(vgg_file), steps=2, ckpt_every=1))
    assert summary["steps"] == 2
    ckpt = load_checkpoint(run / "last.pt")
    assert "disc" in ckpt and "d_opt" in ckpt
    header = (run / "train_log.csv").read_text().splitlines()[0]
    assert header.startswith("step")
    disc = ConditionalDiscriminator()
    y, x = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128)
    assert disc(y, x).shape == (2,)
    assert not torch.equal(disc(y, x), disc(y, torch.rand(2, 3, 128, 128)))  # conditioned on x
    resumed = train(_cfg(prepared, run, gan=True, perceptual="none", steps=3), resume=run / "last.pt")
    assert resumed["steps"] == 3


@pytest.mark.parametrize("perceptual", ["prior", "vgg16"])
def test_every_fsrgan_loss_term_is_logged_finite_and_moves(prepared: Path, tmp_path: Path, perceptual: str) -> None:
    """coarse, fine, prior, adversarial, perceptual and the discriminator's loss, every step, in the CSV; total
    is the generator's whole objective. Also with the real-world degradation (its state is checkpointed)."""
    if perceptual == "prior":
        spec = "prior:" + str(save_weights(create_model("fsrnet_lite_real", **TINY), tmp_path / "prior.safetensors"))
    else:
        from vidfsr.models.fsrgan import VGG16Features

        spec = str(tmp_path / "vgg16.pth")
        torch.save({f"features.{k}": v for k, v in VGG16Features().features.state_dict().items()}, spec)
    run = tmp_path / "gan"
    train(_cfg(prepared, run, gan=True, perceptual=spec, steps=4, degradation="real", model="fsrnet_lite_real",
               adv_weight=0.5, perceptual_weight=0.25))  # fmt: skip
    with open(run / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:
        t = {k: float(row[k]) for k in ("total", "coarse", "fine", "prior", "adv", "perceptual", "disc")}
        assert all(np.isfinite(v) for v in t.values()), row
        assert t["total"] == pytest.approx(t["coarse"] + t["fine"] + t["prior"] + 0.5 * t["adv"]
                                           + 0.25 * t["perceptual"], rel=1e-3)  # fmt: skip
    for key in ("coarse", "fine", "prior", "adv", "perceptual", "disc"):
        assert len({row[key] for row in rows}) > 1, key  # each term changes as training goes


def test_prior_features_are_frozen_and_see_the_face(tmp_path: Path) -> None:
    from vidfsr.models.fsrgan import PriorFeatures, perceptual_network

    path = save_weights(create_model("fsrnet_lite_real", **TINY), tmp_path / "p.safetensors")
    net, name = perceptual_network(f"prior:{path}")
    assert isinstance(net, PriorFeatures) and "prior" in name
    net.train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    x = torch.rand(2, 3, 128, 128, requires_grad=True)
    feat = net(x)
    assert feat.shape[:2] == (2, 16) and feat.shape[-1] == 64
    feat.mean().backward()  # gradients reach the SR image, not the frozen network
    assert x.grad is not None and x.grad.abs().sum() > 0
    from vidfsr.errors import ConfigError

    nop = save_weights(create_model("fsrnet_lite_baseline_v1_x8", **TINY), tmp_path / "np.safetensors")
    with pytest.raises(ConfigError, match="no prior"):
        perceptual_network(f"prior:{nop}")


def test_init_from_weights_of_another_scale(prepared: Path, tmp_path: Path) -> None:
    x8 = create_model("fsrnet_lite_x8", **TINY)
    path = save_weights(x8, tmp_path / "x8.safetensors")
    summary = train(_cfg(prepared, tmp_path / "x4", model="fsrnet_lite_x4", init=str(path), steps=1))
    assert load_model(summary["weights"]).cfg.scale == 4
    from vidfsr.errors import ConfigError

    with pytest.raises(ConfigError, match="stay or double"):  # 8 -> 32 channels: neither the same nor doubled
        train(_cfg(prepared, tmp_path / "bad", model="fsrnet_lite_x4", model_overrides={}, init=str(path), steps=1))


def test_deeper_model_trains_from_shallower_weights(prepared: Path, tmp_path: Path) -> None:
    """``--init`` with a shallower network's weights grows the model: the trained blocks are kept, the new ones
    learn; a network of twice the widths grows from them too; a width neither the same nor doubled is refused."""
    shallow = create_model("fsrnet_lite_real", **TINY)
    path = save_weights(shallow, tmp_path / "shallow.safetensors")
    deeper = {**TINY, "encoder_blocks": 3}
    cfg = _cfg(prepared, tmp_path / "deep", model="fsrnet_lite_real", model_overrides=deeper, degradation="real",
               init=str(path), steps=2)  # fmt: skip
    deep = load_model(train(cfg)["weights"])
    assert deep.cfg.encoder_blocks == 3
    assert deep.encoder[2 + 2].body[4].weight.abs().sum() > 0  # the new block's scale moved off zero
    from vidfsr.errors import ConfigError

    wider = {**deeper, "channels": 16, "prior_channels": 32}
    wide = load_model(train(_cfg(prepared, tmp_path / "wide", model="fsrnet_lite_real", model_overrides=wider,
                                 degradation="real", init=str(path), steps=2))["weights"])  # fmt: skip
    assert (wide.cfg.channels, wide.cfg.prior_channels, wide.cfg.encoder_blocks) == (16, 32, 3)
    with pytest.raises(ConfigError, match="stay or double"):
        train(_cfg(prepared, tmp_path / "w", model="fsrnet_lite_real", model_overrides={**TINY, "channels": 12},
                   degradation="real", init=str(path), steps=1))  # fmt: skip
    with pytest.raises(ConfigError, match="differs"):
        train(_cfg(prepared, tmp_path / "h", model="fsrnet_lite_real", model_overrides={**TINY, "hourglasses": 2},
                   degradation="real", init=str(path), steps=1))  # fmt: skip


def test_k_frame_model_trains_on_bursts_from_single_frame_weights(prepared: Path, tmp_path: Path) -> None:
    one = create_model("fsrnet_lite_real", **TINY)
    path = save_weights(one, tmp_path / "one.safetensors")
    cfg = _cfg(prepared, tmp_path / "k3", model="fsrnet_lite_real_k3", degradation="real", init=str(path), steps=2)
    summary = train(cfg)
    three = load_model(summary["weights"])
    assert three.cfg.frames == 3 and three.coarse[0].weight.shape[1] == 9
    assert three.coarse[0].weight[:, 3:].abs().sum() > 0  # the other frames' weights moved off zero
    from vidfsr.errors import ConfigError

    with pytest.raises(ConfigError, match="degradation real"):
        train(_cfg(prepared, tmp_path / "k3p", model="fsrnet_lite_real_k3", steps=1))


def test_interrupted_run_still_saves(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidfsr.models import train as train_module

    calls = {"n": 0}
    real = train_module.fsrnet_loss

    def loss_then_interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "fsrnet_loss", loss_then_interrupt)
    summary = train(_cfg(prepared, tmp_path / "r", steps=10, ckpt_every=100))
    assert summary["steps"] == 3
    assert load_checkpoint(tmp_path / "r/last.pt")["state"]["step"] == 3
    assert Path(summary["weights"]).exists()


def test_eval_landmark_nrmse_on_prepared_faces(prepared: Path, tmp_path: Path) -> None:
    weights = save_weights(create_model("fsrnet_lite_x8", **TINY), tmp_path / "w.safetensors")
    out_csv = tmp_path / "e.csv"
    args = ["eval", "--model", str(weights), "--hr", str(prepared / "crops"), "--landmarks",
            str(prepared / "landmarks.npy"), "--csv", str(out_csv)]  # fmt: skip
    assert main(args) == 0
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(np.load(prepared / "landmarks.npy"))
    assert all(float(r["nrmse"]) > 0 for r in rows)  # an untrained prior branch: large but finite errors


def test_eval_face_metrics_side_by_side(tmp_path: Path, celeba1000: Path) -> None:
    """--face-metrics: dlib landmark NRMSE and identity distance for bicubic and every --model, per image in the
    CSV; an SR output equal to the HR face would score 0 on both, so the values must be positive and finite."""
    a = save_weights(create_model("fsrnet_lite_x8", **TINY), tmp_path / "a.safetensors")
    out_csv = tmp_path / "f.csv"
    assert main(["eval", "--model", str(a), "--model", "fsrnet_lite_x8", "--hr", str(celeba1000 / "HR"),
                 "--limit", "3", "--face-metrics", "--csv", str(out_csv)]) == 0  # fmt: skip
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for label in ("bicubic", str(a), "fsrnet_lite_x8"):
        for col in ("psnr_y", "dlib_nrmse", "identity"):
            assert all(0 < float(r[f"{label}:{col}"]) < 100 for r in rows), (label, col)
    # The trained x8 model puts the landmarks nearer the truth than an untrained one (0.032 vs 0.047 here).
    marks = {k: np.mean([float(r[f"{k}:dlib_nrmse"]) for r in rows]) for k in (str(a), "fsrnet_lite_x8")}
    assert marks["fsrnet_lite_x8"] < 0.8 * marks[str(a)]


def test_stability_term_is_logged_and_in_the_total(prepared: Path, tmp_path: Path) -> None:
    """The change of the output's error across a two-frame burst: finite, moving, part of what the generator
    minimises, recorded in the metadata; refused without the real degradation."""
    run = tmp_path / "stab"
    summary = train(_cfg(prepared, run, steps=4, degradation="real", model="fsrnet_lite_real", stability_weight=2.0))
    with open(run / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:
        t = {k: float(row[k]) for k in ("total", "coarse", "fine", "prior", "stability")}
        assert all(np.isfinite(v) for v in t.values()) and t["stability"] > 0, row
        assert t["total"] == pytest.approx(t["coarse"] + t["fine"] + t["prior"] + 2.0 * t["stability"], rel=1e-3)
    assert len({row["stability"] for row in rows}) > 1
    losses = json.loads(read_metadata(summary["weights"])["training"])["losses"]
    assert losses["stability_weight"] == 2.0
    with pytest.raises(ConfigError, match="stability"):
        _cfg(prepared, tmp_path / "x", stability_weight=1.0)  # the paper degradation has no bursts


def test_upright_augmentation_flips_like_the_paper_one_and_is_recorded(prepared: Path, tmp_path: Path) -> None:
    """``--augment flip``: faces stay upright (the video pipeline shows the model no other), mirrored exactly as
    the paper augmentation would mirror them from the same stream, which stays the same length; the weights'
    metadata says so; an unknown name is refused with the choices."""
    from vidfsr.models.train import draw_ops

    g_paper, g_flip = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    paper, flip = draw_ops(g_paper, 512, "paper"), draw_ops(g_flip, 512, "flip")
    assert set(paper.tolist()) == set(range(8))
    assert set(flip.tolist()) == {0, 4}
    assert torch.equal(flip, paper & 4)
    assert torch.equal(g_paper.get_state(), g_flip.get_state())
    upright = train(_cfg(prepared, tmp_path / "u", augment="flip"))
    assert json.loads(read_metadata(upright["weights"])["training"])["augment"] == "flip"
    turned = train(_cfg(prepared, tmp_path / "p"))
    assert "augment" not in json.loads(read_metadata(turned["weights"])["training"])
    assert _losses(tmp_path / "u") != _losses(tmp_path / "p")
    with pytest.raises(ConfigError, match="paper, flip"):
        _cfg(prepared, tmp_path / "x", augment="rotate")


def test_charbonnier_and_adam_train_are_recorded_and_a_resume_keeps_the_optimiser(
    prepared: Path, tmp_path: Path
) -> None:
    """``--pixel-loss charbonnier`` measures the image terms as a smooth L1 (zero at a perfect match, |d| far from
    it), ``--optimizer adam`` steps with Adam; both reach the weights' metadata, a resume under another optimiser
    is refused with how to start instead, and the Charbonnier penalty refuses the losses it was not built into."""
    from vidfsr.models.losses import charbonnier

    a = torch.zeros(2, 3, 4, 4)
    assert float(charbonnier(a, a)) == 0.0
    assert float(charbonnier(a + 0.5, a)) == pytest.approx(0.5 - 1e-3, abs=1e-5)  # |d| - eps far from zero
    assert float(charbonnier(a + 0.5, a)) > float(torch.nn.functional.mse_loss(a + 0.5, a))
    cfg = _cfg(prepared, tmp_path / "c", degradation="real", model="fsrnet_lite_real", loss="projected",
               raw_weight=0.3, pixel_loss="charbonnier", optimizer="adam", steps=4, ckpt_every=2)  # fmt: skip
    summary = train(cfg)
    training = json.loads(read_metadata(summary["weights"])["training"])
    assert training["losses"]["pixel"] == "charbonnier" and training["optimizer"] == "adam"
    ckpt = load_checkpoint(tmp_path / "c" / "last.pt")
    assert "exp_avg" in next(iter(ckpt["optimizer"]["state"].values()))  # Adam's moments, not RMSprop's
    l2 = _cfg(prepared, tmp_path / "l", degradation="real", model="fsrnet_lite_real", loss="projected",
              raw_weight=0.3, steps=4, ckpt_every=2)  # fmt: skip
    train(l2)
    assert _losses(tmp_path / "c") != _losses(tmp_path / "l")
    with pytest.raises(ConfigError, match="--optimizer rmsprop"):
        rms = TrainConfig.from_dict({**cfg.__dict__, "optimizer": "rmsprop", "steps": 6})
        train(rms, resume=tmp_path / "c" / "last.pt")
    with pytest.raises(ConfigError, match="charbonnier"):
        _cfg(prepared, tmp_path / "x", loss="paper", pixel_loss="charbonnier")
    with pytest.raises(ConfigError, match="rmsprop, adam"):
        _cfg(prepared, tmp_path / "x", optimizer="sgd")


def test_paste_region_weighs_the_fine_terms_by_what_the_pipeline_shows(prepared: Path, tmp_path: Path) -> None:
    """``--fine-region paste``: the fine terms weigh each pixel by the ellipse ``vidfsr enhance`` pastes through
    (mean 1; a tenth of the peak in the corners), so an error in the hair and background costs a tenth of the same
    error on the face, while the coarse term stays even; it reaches the metadata, and the losses it was not built
    into refuse it."""
    from vidfsr.models.fsrnet import FSRNetConfig, FSRNetOutput
    from vidfsr.models.losses import PASTE_FLOOR, fsrnet_loss, paste_weight
    from vidfsr.pipelines.blend import ellipse_mask

    w = paste_weight(128)
    assert w.shape == (1, 1, 128, 128) and float(w.mean()) == pytest.approx(1.0, abs=1e-5)
    shown = torch.from_numpy(ellipse_mask(128)) > 0.99
    assert float(w[0, 0][shown].min()) == pytest.approx(float(w.max()), rel=0.01)  # the whole face, at the peak
    assert float(w[0, 0, 0, 0]) == pytest.approx(PASTE_FLOOR * float(w.max()), rel=1e-3)  # a corner
    cfg = FSRNetConfig(prior=False)
    hr = torch.zeros(1, 3, 128, 128)
    corner, face = hr.clone(), hr.clone()
    corner[..., :8, :8] = 0.5
    face[..., 60:68, 60:68] = 0.5
    for pixel in ("l2", "charbonnier"):
        cost = {}
        for name, image in (("corner", corner), ("face", face)):
            out = FSRNetOutput(image=image, coarse=image, heatmaps=None, parsing=None)
            even, _ = fsrnet_loss(out, hr, None, None, cfg, pixel=pixel)
            weighted, terms = fsrnet_loss(out, hr, None, None, cfg, pixel=pixel, fine_weight=w)
            # coarse + fine: the coarse term is the even one, the fine term the weighted one
            cost[name] = float(weighted - even / 2)
            assert float(terms["coarse"]) == pytest.approx(float(even) / 2)
        assert cost["corner"] == pytest.approx(PASTE_FLOOR * cost["face"], rel=0.02)
    with pytest.raises(ValueError, match="weight map"):
        fsrnet_loss(FSRNetOutput(face, face, None, None), hr, None, None, cfg, reduction="paper", fine_weight=w)
    done = train(_cfg(prepared, tmp_path / "p", degradation="real", model="fsrnet_lite_real", loss="projected",
                      raw_weight=0.1, fine_region="paste", steps=2))  # fmt: skip
    assert json.loads(read_metadata(done["weights"])["training"])["losses"]["fine_region"] == "paste"
    plain = train(_cfg(prepared, tmp_path / "c", degradation="real", model="fsrnet_lite_real", loss="projected",
                       raw_weight=0.1, steps=2))  # fmt: skip
    assert "fine_region" not in json.loads(read_metadata(plain["weights"])["training"])["losses"]
    assert _losses(tmp_path / "p") != _losses(tmp_path / "c")
    with pytest.raises(ConfigError, match="fine-region"):
        _cfg(prepared, tmp_path / "x", loss="paper", fine_region="paste")
    with pytest.raises(ConfigError, match="crop, paste"):
        _cfg(prepared, tmp_path / "x", fine_region="face")


def test_real_world_validation_also_scores_what_the_pipeline_pastes(
    prepared: Path, tmp_path: Path, celeba1000: Path
) -> None:
    """A real-world run validates the network's output and the face after the back-projection step (what
    ``vidfsr enhance`` pastes, which the raw score can misjudge): both logged and in the weights' metadata, the
    pasted score the same as the evaluation code's for the exported weights."""
    from vidfsr.models.evaluate import as_pasted, real_eval_set, score, super_resolve

    kw = {"val_hr": str(celeba1000 / "HR"), "val_images": 6, "val_every": 2, "steps": 2}
    summary = train(_cfg(prepared, tmp_path / "r", degradation="real", model="fsrnet_lite_real", **kw))
    metrics = json.loads(read_metadata(summary["weights"])["metrics"])
    data = real_eval_set(celeba1000 / "HR", 6)
    sr, _ = super_resolve(load_model(summary["weights"]), data.lr_up, batch_size=16)
    assert metrics["psnr"] == pytest.approx(float(score(sr, data.hr)[0].mean()), abs=1e-3)
    assert metrics["psnr_pasted"] == pytest.approx(float(score(as_pasted(sr, data), data.hr)[0].mean()), abs=1e-3)
    assert metrics["psnr_pasted"] != pytest.approx(metrics["psnr"], abs=1e-3)
    with open(tmp_path / "r" / "train_log.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["val_psnr"]]
    assert float(rows[-1]["val_psnr_pasted"]) == pytest.approx(metrics["psnr_pasted"], abs=1e-3)
