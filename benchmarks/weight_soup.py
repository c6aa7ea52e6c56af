"""Average the weights of fine-tunes that share a start (a "model soup"): one network, no extra inference cost.

    python benchmarks/weight_soup.py OUT.safetensors W1.safetensors[@weight] W2.safetensors[@weight] ...

Every input must have the default model's tensors (same architecture); the output keeps the default weights'
metadata (its serving range among it), so ``benchmarks/real_video.py --weights OUT`` measures it as the pipeline
would serve it. BENCHMARKS.md, session 14, has what the soups of the ``fsrnet_lite_real`` fine-tunes measured.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

DEFAULT = Path(__file__).resolve().parents[1] / "vidfsr/weights/fsrnet_lite_real.safetensors"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("weights", nargs="+", help="PATH or PATH@WEIGHT (default weight 1)")
    ap.add_argument("--metadata-from", default=str(DEFAULT))
    args = ap.parse_args()
    paths = [w.rsplit("@", 1)[0] for w in args.weights]
    shares = [float(w.rsplit("@", 1)[1]) if "@" in w else 1.0 for w in args.weights]
    with safe_open(args.metadata_from, "np") as f:
        meta = dict(f.metadata() or {})
        dtypes = {k: f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 (safe_open is no mapping)
    total: dict[str, np.ndarray] = {}
    for path, share in zip(paths, shares, strict=True):
        with safe_open(path, "np") as f:
            if set(f.keys()) != set(dtypes):
                raise SystemExit(f"{path}: not the same tensors as {args.metadata_from}")
            for k in dtypes:
                total[k] = total.get(k, 0) + share * f.get_tensor(k).astype(np.float64)
    mean = {k: np.ascontiguousarray(np.asarray(v / sum(shares)).astype(dtypes[k])) for k, v in total.items()}
    save_file(mean, args.out, metadata=meta)
    print(f"wrote {args.out}: the mean of {', '.join(args.weights)}")


if __name__ == "__main__":
    main()
