"""Measure face-api.js's expression network and write its model card (models/faceapi.json, .md) and its
CK+ cross-dataset report (models/reports/faceapi_on_ckplus.json).

    python scripts/faceapi_card.py --fer2013 /path/fer2013_trainval.npz --ckplus /path/ckplus.npz

Every number in the card comes from ``ferviz evaluate`` runs made here; the commands are recorded.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from ferviz.cli import main as ferviz_main
from ferviz.model.checkpoint import card_path, resolve_model
from ferviz.model.faceapi import weights_sha256
from ferviz.paths import REPORTS_DIR, portable, portable_tree
from ferviz.results.modelcard import ModelCard

NAME = "faceapi"


def evaluate(data: str, out: Path, *extra: str) -> tuple[dict, str]:
    """``ferviz evaluate --model faceapi`` on ``data``; (report dict, the command without --json)."""
    args = ["evaluate", "--model", NAME, "--data", data, *extra]
    if ferviz_main([*args, "--json", str(out)]) != 0:
        raise SystemExit(f"ferviz {' '.join(args)} failed")
    return json.loads(out.read_text()), " ".join(["python -m ferviz", *args])


def percent(x: float) -> str:
    return f"{100 * x:.2f} %"


def markdown(card: ModelCard, ck: dict, ck_command: str) -> str:
    r = card.report
    lines = [f"# {NAME}: face-api.js FaceExpressionNet", "",
             "Pretrained weights of face-api.js's expression network (npm `@vladmandic/face-api` 1.7.15, a fork "
             "of face-api.js 0.22.2 by Vincent Mühler; MIT, both licence notices in `models/faceapi/`), run by "
             "ferviz's own PyTorch re-implementation (`ferviz/model/faceapi.py`). Not trained here: **its "
             "training data is not disclosed** (\"publicly available datasets as well as images scraped from the "
             "web\"), so it may have seen FER2013 or CK+ faces and these are not held-out numbers.", "",
             f"- FER2013 PublicTest ({r['n']} images): accuracy **{percent(r['accuracy'])}**, macro-F1 "
             f"**{percent(r['macro']['f1'])}**, balanced accuracy {percent(r['scores']['balanced_accuracy'])}, "
             f"NLL {r['scores']['nll']:.2f} nats, ECE {percent(r['scores']['ece'])}",
             f"- CK+ (CK+48, {ck['n']} images of the 6 classes it shares; {ck['meta']['n_left_out']} contempt "
             "images left out; no neutral images, so neutral's F1 of 0 is in the macro mean): accuracy "
             f"**{percent(ck['accuracy'])}**, macro-F1 {percent(ck['macro']['f1'])} "
             "(report `models/reports/faceapi_on_ckplus.json`)",
             "- input: RGB (gray crops replicated) 112x112, `(rgb - [122.782, 117.001, 104.298]) / 255`; "
             "outputs permuted to the FER2013 order",
             f"- sha256 of `face_expression_model.bin` `{card.sha256}` (verified on load)", "",
             "Reproduce:", "", "```", card.command, ck_command,
             "python scripts/faceapi_card.py --fer2013 <fer2013_trainval.npz> --ckplus <ckplus.npz>", "```", "",
             "FER2013 PublicTest, per class:", "",
             "| class | precision | recall | specificity | F1 | support |", "|---|---|---|---|---|---|"]
    for row in r["per_class"]:
        lines.append(f"| {row['class']} | {row['precision'] * 100:.1f} | {row['recall'] * 100:.1f} | "
                     f"{row['specificity'] * 100:.1f} | {row['f1'] * 100:.1f} | {row['support']} |")
    lines += ["", "Confusion matrix (rows true, columns predicted): " + ", ".join(r["class_names"]), "", "```"]
    lines += [" ".join(f"{v:5d}" for v in row) for row in r["confusion"]]
    lines += ["```", "", "\n".join(card.notes), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fer2013", required=True, help="fer2013_trainval.npz")
    parser.add_argument("--ckplus", required=True, help="ckplus.npz")
    args = parser.parse_args()
    folder = resolve_model(NAME)
    with tempfile.TemporaryDirectory() as tmp:
        report, command = evaluate(args.fer2013, Path(tmp) / "publictest.json", "--split", "PublicTest",
                                   "--kind", "comparison")
    report["meta"]["command"] = command
    ck_out = REPORTS_DIR / f"{NAME}_on_ckplus.json"
    ck, ck_command = evaluate(args.ckplus, ck_out, "--kind", "cross-dataset")
    notes = ("Peer model and distillation teacher (ferviz.model.faceapi.faceapi_probs), not a ferviz training run: "
             "the PublicTest report is an evaluation of an external model — nothing was selected on PublicTest "
             "here, but the model's own training data is unknown. Explanation pages (attention, attributions, "
             "walkthrough) are not available for it: it has no FERNet layers. FER2013 and CK+ are gray, so here it "
             "saw gray crops replicated to three channels; on photos the pipeline gives it colour crops. Crops "
             "are resized with ferviz's resize policy (bilinear when enlarging, area when shrinking).")
    card = ModelCard(name=NAME, file=folder.name, variant=NAME, sha256=weights_sha256(folder),
                     dataset="undisclosed", data_file=Path(args.fer2013).name, selected_on="PublicTest",
                     command=command,
                     machine=" ".join(filter(None, [platform.machine(), platform.processor()])),
                     report=report, notes=(notes,), path=card_path(folder))
    # committed files are read on other machines: repository-relative paths, $DATA for the datasets
    card.path.write_text(json.dumps(portable_tree(card.to_dict()), indent=1, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    card.path.with_suffix(".md").write_text(portable(markdown(card, ck, ck_command)), encoding="utf-8")
    ck_out.write_text(portable(ck_out.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {card.path}, {card.path.with_suffix('.md')} and {ck_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
