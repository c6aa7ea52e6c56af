"""``vidfsr train``: train FSRNet on a prepared dataset (``torchrun`` for several processes)."""

from __future__ import annotations

import argparse

from vidfsr.shared import shared_dir


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train FSRNet weights on a folder made by 'vidfsr prepare'",
        description="Train FSRNet (paper eq. 4, RMSprop). Resume with --resume RUN/last.pt. Several processes: "
        "torchrun --nproc_per_node N -m vidfsr.cli train ...",
        epilog="Example: vidfsr train --model fsrnet_lite_x8 --data data/faces128 --out runs/lite_x8 --steps 130000",
    )
    p.add_argument("--model", default="fsrnet_lite_x8", help="registered model name (vidfsr info --model NAME)")
    p.add_argument("--data", default="", help="prepared dataset folder (required unless --export)")
    p.add_argument("--out", default="runs/train", help="run folder for checkpoints, logs and weights")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=14)
    p.add_argument("--lr", type=float, default=2.5e-4)
    p.add_argument("--alpha", type=float, default=1.0, help="weight of the fine SR term")
    p.add_argument("--beta", type=float, default=1.0, help="weight of the prior term")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--val-hr", default=None, help="validation HR crops (default: shared celeba1000/HR)")
    p.add_argument("--val-lr", default=None, help="official LR files for the validation crops (x8 default: LR_x8)")
    p.add_argument("--val-images", type=int, default=200)
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--ckpt-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--data-limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-description", default="")
    p.add_argument("--gan", action="store_true", help="train FSRGAN (conditional discriminator + perceptual loss)")
    p.add_argument(
        "--perceptual",
        default="",
        help="FSRGAN's perceptual features: prior:WEIGHTS (a frozen FSRNet prior branch, no download, e.g. "
        "prior:fsrnet_lite_real), vgg16:PATH or PATH (torchvision vgg16-397923af.pth, the paper's), "
        "'none' to train without it (default: VGG-16 from the local torch hub cache)",
    )
    p.add_argument(
        "--identity", default="", metavar="WEIGHTS",
        help="face-identity network (vidfsr train-identity) for the identity term (FSRNet or FSRGAN)",
    )  # fmt: skip
    p.add_argument("--identity-weight", type=float, default=0.0, help="weight of the identity term (0: off)")
    p.add_argument(
        "--stability-weight", type=float, default=0.0,
        help="temporal-stability term: the change of the output's error across a two-frame burst (real "
        "degradation; 0: off)",
    )  # fmt: skip
    p.add_argument("--adv-weight", type=float, default=1e-3)
    p.add_argument("--perceptual-weight", type=float, default=1e-1)
    p.add_argument(
        "--degradation",
        choices=["paper", "real"],
        default="paper",
        help="paper: bicubic x scale (paper protocol); real: any LR size 12-64 px, kernels, noise, JPEG, H.264",
    )
    p.add_argument(
        "--real-sides", type=int, nargs=2, default=[12, 64], metavar=("LO", "HI"),
        help="with --degradation real: the LR face sides drawn (px, log-uniform)",
    )  # fmt: skip
    p.add_argument(
        "--real-h264", type=float, default=0.5, metavar="SHARE",
        help="with --degradation real: share of batches compressed with H.264 (0-0.85)",
    )  # fmt: skip
    p.add_argument(
        "--real-crf", type=int, nargs=2, default=[18, 38], metavar=("LO", "HI"),
        help="with --degradation real: the H.264 CRF range drawn",
    )  # fmt: skip
    p.add_argument(
        "--real-h264-frames", type=int, nargs=2, default=[2, 2], metavar=("LO", "HI"),
        help="with --degradation real: length range of the clip each compressed batch is coded in; the faces sit "
        "in frame 2..K, predicted from moving references as deep in a stream (2 2: the first models' two-frame clip)",
    )  # fmt: skip
    p.add_argument(
        "--real-h264-files", type=float, default=0.0, metavar="SHARE",
        help="with --real-h264-frames: share of those clips coded as files are (B-frames, macroblock-tree) instead "
        "of as cameras stream (zerolatency)",
    )  # fmt: skip
    p.add_argument(
        "--real-noise", type=float, default=0.15, metavar="SHARE",
        help="with --degradation real: share of faces with sensor noise",
    )  # fmt: skip
    p.add_argument(
        "--real-jpeg", type=float, default=0.15, metavar="SHARE",
        help="with --degradation real: share of faces compressed as JPEG (0 with --real-h264 0 and --real-noise 0: "
        "a model of lossless sources)",
    )  # fmt: skip
    p.add_argument(
        "--burst-motion", choices=["walk", "video"], default="walk",
        help="with bursts (multi-frame models, --stability-weight): walk (a random walk up to 1.2 LR px a frame) "
        "or video (mostly still, some drift, whole-pixel box steps; stiller than real crops move)",
    )  # fmt: skip
    p.add_argument("--prefetch", type=int, default=2, help="batches assembled ahead in a thread (or each worker)")
    p.add_argument(
        "--workers", type=int, default=0,
        help="processes assembling batches (0: one thread beside the step); for a GPU, e.g. 14 on 16 cores. "
        "Each batch is then degraded from its own seed: the same batches for any number of workers",
    )  # fmt: skip
    p.add_argument(
        "--loss", choices=["mean", "paper", "relative", "projected"], default="mean",
        help="mean: each term averaged (the shipped lite weights); paper: eq. 4 literally (per-image sums / 2); "
        "relative: each face's image error over its input's, so large clean faces count as much as small ones; "
        "projected: the fine term after the back-projection step vidfsr enhance applies (--degradation real)",
    )  # fmt: skip
    p.add_argument(
        "--raw-weight", type=float, default=0.0,
        help="with --loss projected: weight of the plain fine term kept beside it, so the network's own output "
        "stays usable without the back-projection step",
    )  # fmt: skip
    p.add_argument(
        "--glasses", type=float, default=0.0, metavar="P",
        help="share of training faces given synthetic eyeglass frames (drawn from their landmarks before the "
        "degradation): thin frames are what the model sharpened least on real video",
    )  # fmt: skip
    p.add_argument(
        "--glasses-clear", type=float, default=0.0, metavar="Q",
        help="share of those frames drawn as clear acetate (pale, half-transparent): the frames the model wipes "
        "off coded faces, narrowing the eyes behind them",
    )  # fmt: skip
    p.add_argument(
        "--augment", choices=("paper", "flip"), default="paper",
        help="paper: a flip and quarter turns (8 variants a face, the paper's); flip: upright faces only, mirrored "
        "or not, as the video pipeline shows them",
    )  # fmt: skip
    p.add_argument(
        "--ema", type=float, default=0.0, metavar="DECAY",
        help="keep an exponential moving average of the weights with this decay (e.g. 0.999; 0: off), and "
        "validate and export it instead of the last step's weights",
    )  # fmt: skip
    p.add_argument(
        "--pixel-loss", choices=("l2", "charbonnier"), default="l2",
        help="how the image terms measure errors: l2 (squared, the paper's) or charbonnier (a smooth L1, which "
        "image restoration studies found reaches a higher PSNR); the prior term stays squared",
    )  # fmt: skip
    p.add_argument(
        "--fine-region", choices=("crop", "paste"), default="crop",
        help="where the fine image terms count: crop (every pixel of the crop) or paste (the ellipse through which "
        "vidfsr enhance pastes the face; a tenth outside it, where the paste never shows)",
    )  # fmt: skip
    p.add_argument(
        "--optimizer", choices=("rmsprop", "adam"), default="rmsprop",
        help="rmsprop (the paper's) or adam; a resumed run keeps its checkpoint's",
    )  # fmt: skip
    p.add_argument("--init", default="", help="start from these FSRNet weights (.safetensors)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from (e.g. RUN/last.pt)")
    p.add_argument(
        "--export",
        default=None,
        metavar="OUT.safetensors",
        help="with --resume CKPT: only write that checkpoint's weights (with metadata) here, e.g. of a running job",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from rich.console import Console

    from vidfsr.errors import ConfigError
    from vidfsr.models.registry import model_config
    from vidfsr.models.train import TrainConfig, export_checkpoint, train

    if args.export:
        if not args.resume:
            raise ConfigError("--export needs the checkpoint to export: --resume RUN/last.pt --export OUT.safetensors")
        Console().print(f"weights: {export_checkpoint(args.resume, args.export)}")
        return 0
    if not args.data:
        raise ConfigError("no training data: pass --data DIR (a folder made by 'vidfsr prepare')")

    from .progress import progress_bar

    scale = model_config(args.model).scale
    test = shared_dir() / "data/faces/test/celeba1000"
    val_hr = args.val_hr if args.val_hr is not None else (str(test / "HR") if (test / "HR").is_dir() else "")
    val_lr = args.val_lr
    if val_lr is None:
        official = scale == 8 and args.degradation == "paper" and args.val_hr is None and (test / "LR_x8").is_dir()
        val_lr = str(test / "LR_x8") if official else ""
    import torch

    # Entry point: the training inputs are all 128x128, so cuDNN's per-shape algorithm search pays once.
    torch.backends.cudnn.benchmark = torch.cuda.is_available()
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    cfg = TrainConfig.from_dict({**values, "val_hr": val_hr, "val_lr": val_lr})
    with progress_bar(f"train {cfg.model}", cfg.steps) as update:

        def report(p: dict) -> None:
            val = f" val {p['val_psnr']:.2f} dB" if p.get("val_psnr") else ""
            update(p["step"], p["steps"], f"loss {p['total']:.4f} {p['img_per_s']:.1f} img/s{val}")

        summary = train(cfg, resume=args.resume, progress=report)
    if "weights" in summary:
        Console().print(f"weights: {summary['weights']}  final validation: {summary['val']}")
    return 0
