"""What a model card reads from its run's log (benchmarks/model_card.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_path = Path(__file__).parents[1] / "benchmarks/model_card.py"
_spec = importlib.util.spec_from_file_location("model_card", _path)
model_card = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_card)


def test_the_curve_stops_at_the_weights_the_card_describes(tmp_path: Path) -> None:
    """A run resumed past its shipped weights (v5's second leg went on to step 4,509 after the 2,513 that
    shipped) logs validations the weights never reached; the card reads up to their ``images_seen`` only."""
    rows = [
        "step,images,total,val_psnr,val_ssim,val_psnr_pasted",
        "250,3500,0.1,26.0,0.74,26.3",
        "300,4200,0.1,,,",
        "500,7000,0.1,26.1,0.75,26.4",
        "750,10500,0.1,26.2,0.75,26.5",
    ]
    (tmp_path / "train_log.csv").write_text("\n".join(rows) + "\n")
    points, pasted = model_card.validation_points(tmp_path)
    assert points == [(3500, 26.0), (7000, 26.1), (10500, 26.2)] and pasted[-1] == (10500, 26.5)
    points, pasted = model_card.validation_points(tmp_path, until=7000)
    assert points == [(3500, 26.0), (7000, 26.1)] and pasted == [(3500, 26.3), (7000, 26.4)]
