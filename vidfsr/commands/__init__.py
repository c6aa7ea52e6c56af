"""Subcommands of the CLI, one module each; argument definitions only at import, work inside ``run``."""

from __future__ import annotations

import argparse


def add_all(sub: argparse._SubParsersAction) -> None:
    """Register every implemented subcommand on the CLI's subparsers."""
    from . import bench, enhance, evaluate, prepare, sample, train, train_identity

    bench.add(sub)
    enhance.add(sub)
    evaluate.add(sub)
    prepare.add(sub)
    sample.add(sub)
    train.add(sub)
    train_identity.add(sub)
