"""Where the repository keeps its shipped files: the models folder, its reports, the default checkpoint.

One small module so that code needing a path does not import the inference (or any heavy) module.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"  # shipped checkpoints (*.pt) with their cards (*.json, *.md)
REPORTS_DIR = MODELS_DIR / "reports"  # committed evaluation, cross-validation and ablation reports
DEFAULT_MODEL = MODELS_DIR / "fer2013_dcnn_bilstm_dam.pt"  # what the app and the CLI load unless told otherwise
