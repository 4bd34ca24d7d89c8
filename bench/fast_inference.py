"""Inference engines for the same checkpoint: plain torch against the faster candidates, one run.

Candidates: TorchScript (trace + freeze), bf16 autocast, int8 dynamic quantisation of the LSTM and
Linear layers, ONNX Runtime (CPU, the exported graph ferviz.pipeline.fastpath uses), ONNX Runtime on that graph
quantised to int8 statically (QDQ, per-channel weights, activations calibrated on 512 Training faces
with ``--fer2013``, else on synthetic faces), and optionally ``torch.compile`` (``--compile``: slow to
build). Each is timed at batch 1 and batch 16 (ms per face),
in interleaved rounds, with its ratio against plain torch measured in the same run, and checked for
parity on 256 synthetic faces (max |difference| of the probabilities, and how often the top class
changes). With ``--fer2013`` (the user's npz), each candidate's PublicTest accuracy is measured too.

    python bench/fast_inference.py --threads 1 --json docs/bench/fast_inference.json
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import common
import numpy as np
import torch

from ferviz.data.preprocess import prepare_images, to_tensor
from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline import fastpath


def synthetic_faces(n: int, seed: int = 0) -> np.ndarray:
    """(n, 48, 48) uint8 smooth random images (no dataset image is needed for timing or parity)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 12, 12)).astype(np.float32)
    return np.stack([np.kron(im, np.ones((4, 4))) for im in small]).astype(np.uint8)


def int8_static_session(loaded, calibration: np.ndarray, threads: int):
    """ONNX Runtime session of the fast path's graph quantised to int8 (QDQ, per-channel weights).

    ``calibration`` is a normalised (N, C, S, S) float32 batch whose activation ranges set the scales.
    """
    import tempfile

    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self):
            if self.start >= len(calibration):
                return None
            self.start += 32
            return {"x": calibration[self.start - 32:self.start]}

    with tempfile.TemporaryDirectory() as tmp:
        plain, pre, quant = (Path(tmp) / name for name in ("plain.onnx", "pre.onnx", "int8.onnx"))
        graph = fastpath.export_onnx(loaded.model, loaded.config.in_channels, loaded.preprocessing.size)
        plain.write_bytes(graph)
        quant_pre_process(str(plain), str(pre))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_static(str(pre), str(quant), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
        return ort.InferenceSession(str(quant), options, providers=["CPUExecutionProvider"])


def engines(model: torch.nn.Module, loaded, example: torch.Tensor, with_compile: bool,
            calibration: np.ndarray | None = None) -> dict:
    """Name -> callable(x) -> logits (float32 tensor or array)."""
    out = {"torch (plain)": lambda x: model(x)}

    def bf16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x).float()

    out["torch bf16 autocast"] = bf16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.freeze(torch.jit.trace(model, example))
        quantised = torch.ao.quantization.quantize_dynamic(model, {torch.nn.LSTM, torch.nn.Linear},
                                                           dtype=torch.qint8)
    out["TorchScript (trace+freeze)"] = lambda x: traced(x)
    out["int8 dynamic (LSTM, Linear)"] = lambda x: quantised(x)
    if fastpath.session_for(loaded) is not None:
        out["ONNX Runtime (ferviz.pipeline.fastpath)"] = lambda x: torch.from_numpy(fastpath.fast_logits(loaded, x))
        if calibration is not None:
            session = int8_static_session(loaded, calibration, torch.get_num_threads())
            out["ONNX Runtime int8 static (QDQ)"] = lambda x: torch.from_numpy(
                session.run(None, {"x": np.ascontiguousarray(x.numpy(), dtype=np.float32)})[0])
    if with_compile:
        compiled = torch.compile(model)
        out["torch.compile"] = lambda x: compiled(x)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (builds for minutes)")
    parser.add_argument("--fer2013", type=Path,
                        help="your FER2013 npz: measure PublicTest accuracy per engine")
    args = parser.parse_args(argv)
    machine = common.start(args, "Inference engines: ms per face against plain torch")
    loaded = load_checkpoint(args.model)
    model = loaded.model.eval()
    prep = loaded.preprocessing
    faces = synthetic_faces(256)
    planes = prepare_images(faces, prep)
    x256 = to_tensor(planes, prep)
    batches = {1: x256[:1].contiguous(), 16: x256[:16].contiguous()}
    rows = []
    data = np.load(args.fer2013) if args.fer2013 else None
    if data is not None:  # calibrate the int8 graph on real Training faces (never on the test split)
        train = np.flatnonzero(data["usage"] == "Training")
        pick = np.sort(np.random.default_rng(0).choice(train, 512, replace=False))
        calibration = to_tensor(prepare_images(data["images"][pick], prep), prep).numpy()
    else:
        calibration = to_tensor(prepare_images(synthetic_faces(512, seed=1), prep), prep).numpy()
    with torch.no_grad():
        calls = engines(model, loaded, batches[1], args.compile, calibration)
        ref = torch.softmax(model(x256), 1).numpy()
        parity = {}
        for name, fn in calls.items():
            probs = torch.softmax(torch.as_tensor(fn(x256)).float(), 1).numpy()
            changed = float((probs.argmax(1) != ref.argmax(1)).mean())
            parity[name] = (float(np.abs(probs - ref).max()), changed)
        timed = common.time_interleaved({(name, b): (lambda fn=fn, x=x: fn(x)) for name, fn in calls.items()
                                         for b, x in batches.items()}, repeats=args.repeats, warmup=3)
        accuracy = {}
        if data is not None:
            keep = data["usage"] == "PublicTest"
            test_planes, labels = prepare_images(data["images"][keep], prep), data["labels"][keep]
            for name, fn in calls.items():
                chunks = (to_tensor(test_planes[i:i + 256], prep) for i in range(0, len(labels), 256))
                preds = np.concatenate([np.asarray(torch.as_tensor(fn(x)).float().argmax(1)) for x in chunks])
                accuracy[name] = float((preds == labels).mean() * 100)
    for name in calls:
        for b in batches:
            t, base = timed[(name, b)], timed[("torch (plain)", b)]
            rows.append({"engine": name, "batch": b, "ms_per_face": t.median * 1000 / b,
                         "iqr_ms": (t.q3 - t.q1) * 1000 / b, "speedup": base.median / t.median,
                         "max_abs_dprob": parity[name][0], "top1_changed": parity[name][1] * 100,
                         "publictest_acc": accuracy.get(name)})
    print(f"model {args.model.name}; parity on 256 synthetic faces against plain torch fp32\n")
    common.print_table(rows, [("engine", "engine", ""), ("batch", "batch", "d"),
                              ("ms_per_face", "ms/face", ".2f"),
                              ("iqr_ms", "IQR", ".2f"), ("speedup", "x plain torch", ".2f"),
                              ("max_abs_dprob", "max |dp|", ".1e"),
                              ("top1_changed", "top-1 changed %", ".2f"),
                              ("publictest_acc", "PublicTest %", ".2f")])
    common.finish(args, "fast_inference", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
