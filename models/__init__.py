"""Networks, losses, datasets, data preparation, training and evaluation (installed as ``vidfsr.models``).

Importing this package pulls in torch; import it only where a model is needed.
"""

from __future__ import annotations

from .fsrnet import FSRNet, FSRNetConfig, FSRNetOutput
from .registry import create_model, describe_model, list_models, model_config

__all__ = ["FSRNet", "FSRNetConfig", "FSRNetOutput", "create_model", "describe_model", "list_models", "model_config"]
