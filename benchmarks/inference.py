"""Model inference speed per CPU path and batch size, and the accuracy cost of bf16 (issue 8's numbers).

    python benchmarks/inference.py [--models fsrnet_lite_x8 fsrnet_x8] [--weights W.safetensors] [--out FILE]

Paths: eager fp32 (contiguous / channels-last), eager bf16 autocast + channels-last, ONNX Runtime fp32 (export
of the same module). Fraction of peak uses this CPU's measured peaks from ../shared/README.md (2 cores at a real
~4.2 GHz: ~538 GFLOP/s fp32, ~1075 GFLOP/s bf16). With --weights, Y-PSNR of bf16 vs fp32 on 200 test faces.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import torch
from vidfsr.models.fsrnet import count_macs
from vidfsr.models.registry import create_model

PEAK = {"fp32": 538e9, "bf16": 1075e9}


def timed(fn, batch: int, min_seconds: float = 3.0) -> float:
    fn()  # warm-up
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < min_seconds:
        fn()
        n += 1
    return n * batch / (time.perf_counter() - t)


def eager(model, x: torch.Tensor, precision: str, channels_last: bool):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext

    @torch.inference_mode()
    def run() -> None:
        with ctx():
            model(x)

    return run


def onnx_runner(model, x: torch.Tensor, path: Path):
    import onnxruntime as ort

    torch.onnx.export(
        model, (x,), str(path), dynamo=False, input_names=["x"], output_names=["image", "coarse", "heat", "parse"],
        dynamic_axes={"x": {0: "batch"}}, opset_version=17,
    )  # fmt: skip
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    return lambda: sess.run(["image"], feed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["fsrnet_lite_x8", "fsrnet_x8"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8])
    ap.add_argument("--weights", default="")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    rows = []
    print(f"{'model':<16} {'path':<22} {'batch':>5} {'faces/s':>8} {'% peak':>7}")
    for name in args.models:
        model = create_model(name).eval()
        flops = 2 * count_macs(model)
        for batch in args.batches:
            x = torch.rand(batch, 3, 128, 128)
            paths = {
                "eager fp32": ("fp32", eager(model, x, "fp32", False)),
                "eager fp32 NHWC": ("fp32", eager(model, x, "fp32", True)),
                "eager bf16 NHWC": ("bf16", eager(model, x, "bf16", True)),
                "onnxruntime fp32": ("fp32", onnx_runner(model.to(memory_format=torch.contiguous_format), x,
                                                         Path(f"/tmp/vidfsr_{name}_{batch}.onnx"))),
            }  # fmt: skip
            for label, (precision, fn) in paths.items():
                rate = timed(fn, batch)
                frac = rate * flops / PEAK[precision]
                rows.append({"model": name, "path": label, "batch": batch, "faces_per_s": round(rate, 2),
                             "fraction_of_peak": round(frac, 3)})  # fmt: skip
                print(f"{name:<16} {label:<22} {batch:>5} {rate:8.2f} {100 * frac:6.1f}%", flush=True)
    accuracy = None
    if args.weights:
        from vidfsr.models.evaluate import load_eval_set, score, super_resolve
        from vidfsr.models.io import load_model

        from vidfsr.shared import shared_dir

        model = load_model(args.weights)
        test = shared_dir() / "data/faces/test/celeba1000"
        lr = test / "LR_x8" if model.cfg.scale == 8 else None
        data = load_eval_set(test / "HR", model.cfg.scale, lr, limit=200)
        fp32 = score(super_resolve(model, data.lr_up, 8)[0], data.hr)[0].mean()
        bf16 = score(super_resolve(model, data.lr_up, 8, autocast_dtype=torch.bfloat16)[0], data.hr)[0].mean()
        accuracy = {"weights": args.weights, "faces": 200, "psnr_fp32": round(float(fp32), 3),
                    "psnr_bf16": round(float(bf16), 3), "delta_db": round(float(bf16 - fp32), 3)}  # fmt: skip
        print(accuracy)
    if args.out:
        Path(args.out).write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows,
                                              "bf16_accuracy": accuracy}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
