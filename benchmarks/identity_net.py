"""The identity network (``vidfsr train-identity``) against dlib's face-recognition ResNet.

    python benchmarks/identity_net.py --weights checkpoints/identity/identity.safetensors [--limit 300]

1. Verification on the held-out identities of the prepared data (never trained on): ROC AUC of "same
   person" on HR faces and on faces shrunk to 24 px and cubic-upsampled, for both networks on the same pairs.
2. Whether it sees what dlib sees on celeba1000 (official LR_x8): each network's identity distance of bicubic
   and of FSRNet (the shipped ``fsrnet_lite_real``) to the HR face, and their per-face rank correlation. An
   identity loss is only worth training with if it, too, finds FSRNet's faces further from the person.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
from vidfsr.models.evaluate import load_eval_set, super_resolve
from vidfsr.models.face_metrics import FaceAnalyser, crop_face_box
from vidfsr.models.identity import (
    embed,
    load_identities,
    load_identity_net,
    verification_auc,
    verification_pairs,
)
from vidfsr.models.io import load_model

from vidfsr.api import set_cpu_threads
from vidfsr.shared import shared_dir


def _ranks(v: np.ndarray) -> np.ndarray:
    r = np.empty(len(v))
    r[np.argsort(v)] = np.arange(len(v))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data", default="data/faces128")
    ap.add_argument("--model", default="fsrnet_lite_real")
    ap.add_argument("--limit", type=int, default=300, help="celeba1000 faces")
    ap.add_argument("--out", default="benchmarks/results/identity_net.json")
    args = ap.parse_args()
    os.environ.setdefault("VIDFSR_MODEL_DIR", str(shared_dir() / "models"))
    set_cpu_threads()
    started = time.perf_counter()
    net = load_identity_net(args.weights)
    dlib = FaceAnalyser()
    box = crop_face_box(128)
    result: dict = {"weights": args.weights, "command": "python benchmarks/identity_net.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())}  # fmt: skip

    _, val = load_identities(args.data)
    pairs = verification_pairs(val.labels)
    same = pairs[:, 2]
    print(f"1. verification, {len(val.names)} held-out identities, {len(val.images)} faces, {len(pairs)} pairs")
    print("| faces | identity net AUC | dlib AUC |\n|---|---|---|")
    for name, side in (("HR 128 px", 0), ("shrunk to 24 px, cubic up", 24)):
        images = val.images if not side else np.stack([cv2.resize(cv2.resize(
            im, (side, side), interpolation=cv2.INTER_AREA), (128, 128), interpolation=cv2.INTER_CUBIC)
            for im in val.images])  # fmt: skip
        e = embed(net, images)
        ours = verification_auc(1 - (e[pairs[:, 0]] * e[pairs[:, 1]]).sum(1), same)
        d = np.stack([dlib.embedding(im, box) for im in images])
        theirs = verification_auc(np.linalg.norm(d[pairs[:, 0]] - d[pairs[:, 1]], axis=1), same)
        result[f"verification {name}"] = {"identity_net_auc": ours, "dlib_auc": theirs, "pairs": len(pairs)}
        print(f"| {name} | {ours:.4f} | {theirs:.4f} |")

    test = shared_dir() / "data/faces/test/celeba1000"
    es = load_eval_set(test / "HR", 8, test / "LR_x8", args.limit)
    sr, _ = super_resolve(load_model(args.model), es.lr_up)
    e_hr = embed(net, es.hr)
    d_hr = [dlib.embedding(im, box) for im in es.hr]
    print(f"\n2. celeba1000 official LR_x8, first {len(es.hr)} faces: identity distance to HR (lower is better)")
    print("| method | identity net (cosine) | dlib (Euclidean) |\n|---|---|---|")
    per: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, faces in (("bicubic", es.baseline), (args.model, sr)):
        ours = 1 - (embed(net, faces) * e_hr).sum(1)
        theirs = np.array([np.linalg.norm(dlib.embedding(im, box) - h) for im, h in zip(faces, d_hr, strict=True)])
        per[name] = (ours, theirs)
        result[f"celeba1000 {name}"] = {"identity_net": float(ours.mean()), "dlib": float(theirs.mean())}
        print(f"| {name} | {ours.mean():.4f} | {theirs.mean():.4f} |")
    (ob, tb), (om, tm) = per["bicubic"], per[args.model]
    agree = float(np.mean(np.sign(om - ob) == np.sign(tm - tb)))
    rho = float(np.corrcoef(_ranks(om - ob), _ranks(tm - tb))[0, 1])
    result["agreement"] = {"same_sign_share": agree, "spearman_of_differences": rho}
    print(f"\nper face, FSRNet minus bicubic: same sign in {agree:.0%} of faces, Spearman {rho:.2f}")
    result["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
