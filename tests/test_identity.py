"""The face-identity network behind the identity loss term: split by identity, verification metric, training
and resume, and the term in FSRNet training (logged, in the total, in the weights' metadata)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from vidfsr.models.identity import (
    IdentityNet,
    IdentityNetConfig,
    IdentityTrainConfig,
    identity_loss,
    load_identities,
    load_identity_net,
    save_identity_weights,
    train_identity,
    verification_auc,
)
from vidfsr.models.io import read_metadata
from vidfsr.models.prepare import PrepareConfig, prepare
from vidfsr.models.train import TrainConfig, train

from vidfsr.errors import ConfigError

PEOPLE = ("Tony_Blair", "Hans_Blix", "David_Beckham", "Wen_Jiabao")
TINY_NET = {"width": 4, "embed": 8}
TINY_FSRNET = {"channels": 8, "coarse_blocks": 1, "encoder_blocks": 1, "decoder_blocks": 1, "prior_channels": 16}


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """Three LFW photos each of four people, prepared by the project's own data preparation (names kept)."""
    src = tmp_path_factory.mktemp("lfw")
    for person in PEOPLE:
        for p in sorted((shared / "data/faces/train/lfw").glob(f"{person}_0*.jpg"))[:3]:
            shutil.copy(p, src / p.name)
    out = tmp_path_factory.mktemp("named")
    summary = prepare([src], out, PrepareConfig(workers=1, val_fraction=0.0))
    assert summary["accepted"] >= 10
    return out


def test_validation_identities_never_train(named: Path) -> None:
    seed = next(s for s in range(50) if all(len(part.names) for part in load_identities(named, 0.5, s)))
    train_set, val_set = load_identities(named, 0.5, seed)
    assert set(train_set.names).isdisjoint(val_set.names)
    assert len(train_set.images) + len(val_set.images) >= 10
    assert train_set.labels.max() == len(train_set.names) - 1  # labels index the split's own names


def test_verification_auc_against_hand_counts() -> None:
    # same pairs at 0.1 and 0.4, different pairs at 0.3 and 0.5: 3 of the 4 (same, different) orderings right
    d, same = np.array([0.1, 0.4, 0.3, 0.5]), np.array([1, 1, 0, 0])
    assert verification_auc(d, same) == pytest.approx(0.75)
    assert verification_auc(np.array([0.3, 0.3]), np.array([1, 0])) == pytest.approx(0.5)  # a tie counts half
    assert verification_auc(np.array([0.9, 0.1]), np.array([1, 0])) == pytest.approx(0.0)


def test_identity_loss_is_zero_on_the_same_face_and_only_the_sr_side_learns() -> None:
    torch.manual_seed(0)
    net = IdentityNet(IdentityNetConfig(**TINY_NET)).eval()
    hr = torch.rand(2, 3, 128, 128, requires_grad=True)
    emb = net(hr)
    assert torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)
    assert float(identity_loss(net, hr, hr).detach()) == pytest.approx(0.0, abs=1e-5)
    sr = torch.rand(2, 3, 128, 128, requires_grad=True)
    loss = identity_loss(net, sr, hr)
    assert float(loss.detach()) > 0
    loss.backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0
    assert hr.grad is None  # the HR embedding is the target


def test_training_learns_the_names_exports_and_resumes(named: Path, tmp_path: Path) -> None:
    seed = next(s for s in range(50) if all(len(part.names) >= 2 for part in load_identities(named, 0.5, s)))
    cfg = IdentityTrainConfig(data=str(named), out=str(tmp_path / "run"), steps=30, batch_size=8, lr=0.05,
                              val_share=0.5, val_every=30, ckpt_every=10, log_every=5, threads=1, seed=seed,
                              net=IdentityNetConfig(**TINY_NET))  # fmt: skip
    first = train_identity(cfg)  # fmt: skip
    with open(tmp_path / "run/train_log.csv") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["loss"]) for r in rows]
    assert len(rows) == 6 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]  # it learns the training names
    assert 0 <= float(rows[-1]["val_auc"]) <= 1
    net = load_identity_net(first["weights"])
    assert not any(p.requires_grad for p in net.parameters())
    meta = read_metadata(first["weights"])
    assert meta["format"] == "vidfsr-identity-1" and "held-out identities" in meta["training_data"]
    assert json.loads(meta["metrics"])["step"] == 30
    resumed = train_identity(IdentityTrainConfig.from_dict({**cfg.to_dict(), "steps": 40}),
                             resume=tmp_path / "run/last.pt")  # fmt: skip
    assert resumed["step"] == 40


def test_identity_term_in_fsrnet_training(named: Path, tmp_path: Path) -> None:
    """Logged every step, finite, moving, and part of the total the generator minimises; named in the metadata."""
    weights = save_identity_weights(IdentityNet(IdentityNetConfig(**TINY_NET)).eval(), tmp_path / "id.safetensors")
    base = {"model": "fsrnet_lite_real", "model_overrides": TINY_FSRNET, "data": str(named), "out": str(tmp_path / "r"),
            "steps": 4, "batch_size": 4, "log_every": 1, "ckpt_every": 4, "val_images": 0, "threads": 1,
            "precision": "fp32", "channels_last": False, "degradation": "real", "identity": str(weights),
            "identity_weight": 0.5}  # fmt: skip
    summary = train(TrainConfig.from_dict(base))
    with open(tmp_path / "r/train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:
        t = {k: float(row[k]) for k in ("total", "coarse", "fine", "prior", "identity")}
        assert all(np.isfinite(v) for v in t.values()), row
        assert 0 <= t["identity"] <= 2
        assert t["total"] == pytest.approx(t["coarse"] + t["fine"] + t["prior"] + 0.5 * t["identity"], rel=1e-3)
    assert len({row["identity"] for row in rows}) > 1
    losses = json.loads(read_metadata(summary["weights"])["training"])["losses"]
    assert losses["identity"] == "id.safetensors" and losses["identity_weight"] == 0.5
    with pytest.raises(ConfigError, match="identity"):
        TrainConfig.from_dict({**base, "identity": ""})  # a weight without a network
