"""The fast inference path: the same network run by ONNX Runtime (CPU) instead of eager PyTorch.

Measured in ``bench/fast_inference.py`` against plain torch, TorchScript, bf16 autocast and int8
dynamic quantisation (see ``bench/README.md``): ONNX Runtime gave the same probabilities
(max |difference| about 1e-6) at about twice the speed for one face, so Predict, the video paths and
Evaluate use it. Captum and the explain pages keep the torch model (they need its gradients and layers).

Each checkpoint is exported once per process (``torch.onnx.export``, TorchScript-based exporter, a
dynamic batch axis) into memory and kept, keyed by its sha256. Set ``FERVIZ_FAST=0`` to switch the fast
path off; where ``onnxruntime`` cannot be imported or the export fails, torch is used and the reason
is logged once.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import warnings

import numpy as np
import torch

from ferviz.model.checkpoint import LoadedModel

log = logging.getLogger(__name__)

ENV_SWITCH = "FERVIZ_FAST"  # "0" turns the fast path off
_lock = threading.Lock()
_sessions: dict[str, object] = {}  # checkpoint sha256 -> onnxruntime.InferenceSession (or None: failed)


def fast_path_enabled() -> bool:
    """True unless ``FERVIZ_FAST=0`` or ``onnxruntime`` (or ``onnx``, which the exporter needs) is missing."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def export_onnx(model: torch.nn.Module, channels: int, size: int) -> bytes:
    """The model (eval mode, logits out) as an ONNX graph with a dynamic batch axis."""
    dummy = torch.zeros(2, channels, size, size)
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(model.eval(), dummy, buf, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    return buf.getvalue()


def session_for(loaded: LoadedModel):
    """The ONNX Runtime session of a checkpoint (exported on first use), or None where unavailable."""
    if not fast_path_enabled():
        return None
    with _lock:
        if loaded.sha256 not in _sessions:
            _sessions[loaded.sha256] = _build(loaded)
        return _sessions[loaded.sha256]


def _build(loaded: LoadedModel):
    import onnxruntime as ort

    try:
        graph = export_onnx(loaded.model, loaded.config.in_channels, loaded.preprocessing.size)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any export problem means: stay on torch, say why once
        log.warning("ONNX Runtime fast path unavailable for %s (%s: %s); using torch",
                    loaded.path.name, type(exc).__name__, exc)
        return None


def fast_logits(loaded: LoadedModel, x: torch.Tensor) -> np.ndarray | None:
    """Logits (N, classes) float32 from ONNX Runtime for a normalised input batch, or None (use torch)."""
    session = session_for(loaded)
    if session is None:
        return None
    return session.run(None, {"x": np.ascontiguousarray(x.numpy(), dtype=np.float32)})[0]


def predict_planes(loaded: LoadedModel, planes: np.ndarray, batch_size: int = 256,
                   progress=None) -> np.ndarray:
    """(N, C, S, S) uint8 planes -> (N, classes) probabilities, on the fast path where available.

    Falls back to :func:`ferviz.train.engine.predict_probs` (torch) exactly where :func:`fast_logits` would.
    """
    from ferviz.data.preprocess import to_tensor
    from ferviz.train.engine import predict_probs

    if session_for(loaded) is None:
        return predict_probs(loaded.model, planes, loaded.preprocessing, batch_size=batch_size,
                             progress=progress)
    out = []
    for start in range(0, len(planes), batch_size):
        x = to_tensor(planes[start:start + batch_size], loaded.preprocessing)
        out.append(torch.softmax(torch.from_numpy(fast_logits(loaded, x)), dim=1).numpy())
        if progress is not None:
            progress(min(start + batch_size, len(planes)), len(planes))
    return np.concatenate(out) if out else np.zeros((0, len(loaded.labels)), np.float32)


def clear() -> None:
    """Forget every exported session (tests; a replaced checkpoint gets a new sha256 anyway)."""
    with _lock:
        _sessions.clear()
