"""scripts/seeds.sh and scripts/levers.sh with a stand-in ``ferviz`` on PATH: the commands they run, the
reports they name, and that a finished run is skipped (no training happens here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE = """#!/usr/bin/env bash
echo "ferviz $*" >> "$FAKE_LOG"
if [ "$1" = evaluate ]; then
  while [ $# -gt 0 ]; do [ "$1" = --json ] && { mkdir -p "$(dirname "$2")"; echo '{}' > "$2"; }; shift; done
fi
"""

pytestmark = pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock (util-linux)")


@pytest.fixture
def repo(tmp_path):
    """A copy of scripts/ in an empty repository, and a PATH whose ``ferviz`` only logs its arguments."""
    (tmp_path / "repo" / "scripts").mkdir(parents=True)
    for name in ("_budget.sh", "seeds.sh", "levers.sh"):
        shutil.copy(ROOT / "scripts" / name, tmp_path / "repo" / "scripts" / name)
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "ferviz"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    return tmp_path


def run(repo: Path, script: str, **env) -> list[str]:
    log = repo / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run(["bash", f"scripts/{script}"], cwd=repo / "repo", check=True, timeout=60,
                   env={**os.environ, "PATH": f"{repo / 'bin'}:{os.environ['PATH']}", "FAKE_LOG": str(log),
                        "DATA": "/data", "RUNS": str(repo / "runs"), **env})
    return log.read_text().splitlines() if log.exists() else []


def reproduce_step(repo: Path, step: str) -> tuple[list[str], list]:
    """The ``ferviz`` calls of one step of scripts/reproduce.sh, and each parsed by ferviz's own parser (so
    every option they use exists)."""
    import shlex

    from ferviz.cli import build_parser

    shutil.copy(ROOT / "scripts" / "reproduce.sh", repo / "repo" / "scripts" / "reproduce.sh")
    calls = run(repo, "reproduce.sh", DATA="/d", RUNS="runs", STEPS=step)
    parser = build_parser()
    return calls, [parser.parse_args(shlex.split(call)[1:]) for call in calls]


def test_seeds_trains_each_variant_and_seed_once_then_skips_it(repo):
    calls = run(repo, "seeds.sh", VARIANTS="cnn_bilstm", SEEDS="0 1")
    assert len(calls) == 4
    train, evaluate = calls[0].split(), calls[1].split()
    for flag, value in (("--model", "cnn_bilstm"), ("--epochs", "16"), ("--seed", "0"), ("--subset", "5000"),
                        ("--recipe", "strong"), ("--warmup-epochs", "1")):
        assert train[train.index(flag) + 1] == value
    assert "--resume" in train and evaluate[evaluate.index("--kind") + 1] == "ablation"
    assert evaluate[evaluate.index("--json") + 1] == \
        "models/reports/seeds/fer2013_ablation_cnn_bilstm_n5000_e16_s0.json"
    assert run(repo, "seeds.sh", VARIANTS="cnn_bilstm", SEEDS="0 1") == []  # both reports exist now


def test_levers_make_one_change_each_against_the_seed_budget(repo):
    calls = run(repo, "levers.sh", LEVERS="ema long kd_ensemble", SEEDS="2")
    trains = [c.split() for c in calls if c.startswith("ferviz train")]
    evaluates = [c.split() for c in calls if c.startswith("ferviz evaluate")]
    assert [t[t.index("--model") + 1] for t in trains] == ["dcnn_bilstm_dam"] * 3
    ema, long, kd = trains
    assert ema[ema.index("--ema-decay") + 1] == "0.998" and ema[ema.index("--epochs") + 1] == "16"
    assert long[long.index("--epochs") + 1] == "32" and "--ema-decay" not in long
    assert kd.count("--teacher") == 4 and "--kd-cache" in kd
    assert kd[kd.index("--teacher") + 1] == "models/fer2013_dcnn_bilstm_dam.pt"
    assert [e[e.index("--lever") + 1] for e in evaluates] == ["ema", "long", "kd_ensemble"]
    assert evaluates[1][evaluates[1].index("--json") + 1] == \
        "models/reports/levers/fer2013_lever_long_n5000_e32_s2.json"


def test_the_default_teacher_can_be_pinned_for_later_seeds(repo):
    calls = run(repo, "levers.sh", LEVERS="kd_ensemble", SEEDS="1", DAM_TEACHER="/pinned/stage3.pt")
    kd = calls[0].split()
    assert kd[kd.index("--teacher") + 1] == "/pinned/stage3.pt" and kd.count("--teacher") == 4


def test_the_swa_lever_keeps_the_second_half_and_reports_its_mean(repo):
    calls = run(repo, "levers.sh", LEVERS="swa ema", SEEDS="0")
    assert [c.split()[1] for c in calls] == ["train", "average", "evaluate", "train", "evaluate"]
    train, average, evaluate = (c.split() for c in calls[:3])
    assert train[train.index("--keep-epochs-from") + 1] == "9" and train[train.index("--epochs") + 1] == "16"
    run_dir = train[train.index("--out") + 1]
    def value(call, flag):
        return call[call.index(flag) + 1]

    assert value(average, "--run") == run_dir and value(average, "--from-epoch") == "9"
    assert value(evaluate, "--model") == value(average, "--out") == f"{run_dir}/swa.pt"
    ema_eval = calls[4].split()
    assert ema_eval[ema_eval.index("--model") + 1].endswith("ema_s0/best.pt")  # the next lever: best.pt again


def test_an_unknown_lever_stops_the_script(repo):
    with pytest.raises(subprocess.CalledProcessError):
        run(repo, "levers.sh", LEVERS="magic", SEEDS="0")


def test_real_levers_run_one_change_each_and_every_command_parses(repo):
    import shlex

    from ferviz.cli import build_parser

    shutil.copy(ROOT / "scripts" / "real_levers.sh", repo / "repo" / "scripts" / "real_levers.sh")
    calls = run(repo, "real_levers.sh", DATA="/d", RUNS="runs")
    trains = [c for c in calls if c.startswith("ferviz train")]
    assert len(trains) == 13 and len([c for c in calls if c.startswith("ferviz domains")]) == 13
    parser = build_parser()
    for call in calls:
        parser.parse_args(shlex.split(call)[1:])  # every option the script uses exists
    teacher = next(c for c in trains if "real_lever_teacher " in c + " ")
    box = next(c for c in trains if "real_lever_teacher_box" in c)
    assert "--photo-crop aligned" in teacher and "--photo-crop box" in box
    assert teacher.replace("aligned", "box").replace("real_lever_teacher", "real_lever_teacher_box") == box
    luma = next(c for c in trains if "real_lever_teacher_luma" in c)
    assert "--photo-gray mixed" in teacher
    assert "--photo-gray luma --photo-cache runs/photo_faces_aligned_luma.npz" in luma
    base = next(c for c in trains if "real_lever_fer2013" in c)
    assert "--labels" not in base and "--init models/fer2013_dcnn_bilstm_dam.pt" in base
    soft = next(c for c in trains if "real_lever_ferplus_soft" in c)
    for kind in ("gamma", "blur", "low_resolution", "jpeg"):  # each camera degradation: one addition to soft
        one = next(c for c in trains if f"real_lever_camera_{kind} " in c)
        assert one == soft.replace("ferplus_soft", f"camera_{kind}") + f" --camera 0.3 --camera-kinds {kind}"
    assert next(c for c in trains if "real_lever_no_rotation" in c).endswith("--labels ferplus-soft --rotate 0")
    seeded = run(repo, "real_levers.sh", DATA="/d", RUNS="runs", LEVERS="erase", SEEDS="0 2")
    assert ["--seed 0 --out runs/real_lever_erase " in c for c in seeded] == [True, False, False, False]
    assert "--seed 2 --out runs/real_lever_erase_seed2 " in seeded[2]
    assert seeded[3].endswith("--out models/reports/real_levers/erase_seed2.json")


def test_the_ferplus_only_step_trains_two_seeds_averages_them_and_measures_them_beside_the_default(repo):
    calls, parsed = reproduce_step(repo, "ferplus_only")
    assert [c.split()[1] for c in calls] == ["train", "average", "train", "average", "average", "adjust", "domains"]
    trains = [parsed[0], parsed[2]]
    assert [t.seed for t in trains] == [0, 1] and [t.out for t in trains] == ["runs/ferplus_only_s0",
                                                                            "runs/ferplus_only_s1"]
    for t in trains:  # FER+'s votes alone: no FER2013 label, no teacher on FER2013's faces, no class weights
        assert t.labels == "ferplus-soft" and t.init == "models/real_dcnn_bilstm_dam.pt"
        assert not t.fer2013_weight and not t.fer_teacher and not t.class_weights and not t.teacher
    assert parsed[4].checkpoint == ["runs/ferplus_only_s0/swa.pt", "runs/ferplus_only_s1/swa.pt"]
    assert parsed[5].tau == 0.5
    assert parsed[6].out == "models/reports/domains/ferplus_only.json"
    assert parsed[6].models[0] == "real_dcnn_bilstm_dam=models/real_dcnn_bilstm_dam.pt"


def test_the_recipe_parts_step_changes_one_part_of_the_default_recipe_per_run_beside_a_control(repo):
    calls, parsed = reproduce_step(repo, "recipe_parts")
    assert [c.split()[1] for c in calls] == ["train", "average"] * 5 + ["domains"]
    trains = parsed[0:10:2]
    control, teacher, no_fer, control1, teacher1 = trains
    assert [t.out for t in trains] == ["runs/recipe_control", "runs/recipe_teacher_0.5", "runs/recipe_no_fer2013",
                                       "runs/recipe_control_s1", "runs/recipe_teacher_0.5_s1"]
    assert [t.seed for t in trains] == [0, 0, 0, 1, 1]
    for t in trains:  # the same budget, start and everything else
        assert (t.init, t.epochs, t.lr, t.labels, t.class_weights, t.camera, t.keep_epochs_from) == (
            "models/real_dcnn_bilstm_dam.pt", 4, 2e-4, "ferplus-soft", 0.15, 0.3, 2)
    # the one change each: face-api.js's weight on FER2013's faces; FER2013's labels dropped
    for seeds, weights in (((control, control1), (0.15, 0.2)), ((teacher, teacher1), (0.15, 0.5))):
        assert [(t.fer2013_weight, t.fer_teacher) for t in seeds] == [weights, weights]
    assert not no_fer.fer2013_weight and no_fer.fer_teacher == 0.2
    assert [p.from_epoch for p in parsed[1:10:2]] == [2] * 5
    assert parsed[10].out == "models/reports/domains/recipe_parts.json"
    assert parsed[10].models == ["real_dcnn_bilstm_dam=models/real_dcnn_bilstm_dam.pt",
                                 "recipe_control=runs/recipe_control/swa.pt",
                                 "recipe_teacher_0.5=runs/recipe_teacher_0.5/swa.pt",
                                 "recipe_no_fer2013=runs/recipe_no_fer2013/swa.pt",
                                 "recipe_control_seed1=runs/recipe_control_s1/swa.pt",
                                 "recipe_teacher_0.5_seed1=runs/recipe_teacher_0.5_s1/swa.pt"]


def test_the_self_distil_step_reruns_control_and_teacher_with_the_default_as_a_teacher_too(repo):
    calls, parsed = reproduce_step(repo, "self_distil")
    assert [c.split()[1] for c in calls] == ["train", "average"] * 2 + ["domains"]
    control, teacher = parsed[0], parsed[2]
    assert [t.out for t in (control, teacher)] == ["runs/self_kd", "runs/self_kd_teacher_0.5"]
    for t in (control, teacher):  # recipe_parts's budget and recipe, plus the default as a cached teacher
        assert (t.init, t.epochs, t.lr, t.seed, t.labels, t.fer2013_weight, t.class_weights, t.camera) == (
            "models/real_dcnn_bilstm_dam.pt", 4, 2e-4, 0, "ferplus-soft", 0.15, 0.15, 0.3)
        assert t.teacher == ["models/real_dcnn_bilstm_dam.pt"] and t.kd_cache and t.keep_epochs_from == 2
    assert (control.fer_teacher, teacher.fer_teacher) == (0.2, 0.5)
    assert [p.from_epoch for p in (parsed[1], parsed[3])] == [2, 2]
    assert parsed[4].out == "models/reports/domains/self_distil.json"
    assert parsed[4].models == ["real_dcnn_bilstm_dam=models/real_dcnn_bilstm_dam.pt",
                                "self_kd=runs/self_kd/swa.pt", "self_kd_teacher_0.5=runs/self_kd_teacher_0.5/swa.pt"]


def test_the_default_gets_its_mirror_view_before_it_is_measured_and_shipped(repo):
    calls, parsed = reproduce_step(repo, "views_real domains ship_real")
    assert [c.split()[1] for c in calls] == ["adjust", "domains", "ship"]
    views, domains, ship = parsed
    assert (views.checkpoint, views.tta, views.tau) == ("runs/real4/tau_0.25.pt", "flip", None)
    assert views.out == "runs/real4/tau_0.25_flip.pt"
    assert domains.models[0] == f"real_dcnn_bilstm_dam={views.out}"
    assert (ship.run, ship.name, ship.checkpoint) == ("runs/real4", "real_dcnn_bilstm_dam", "tau_0.25_flip.pt")


def test_the_default_and_face_api_are_scored_on_the_lab_sets_after_the_default_ships(repo):
    calls, parsed = reproduce_step(repo, "cross_real")
    assert [c.split()[1] for c in calls] == ["evaluate"] * 4
    made = [(p.model, p.data, p.kind, p.json) for p in parsed]
    assert made == [(model, f"/d/{ds}/{ds}.npz", "cross-dataset", f"models/reports/{name}_on_{ds}.json")
                    for model, name in (("models/real_dcnn_bilstm_dam.pt", "real_dcnn_bilstm_dam"),
                                        ("faceapi", "faceapi"))
                    for ds in ("ckplus", "jaffe")]
    for report in made:  # each one is committed, so that Evaluate and Compare can open it
        assert (ROOT / report[3]).is_file()
    steps = (ROOT / "scripts" / "reproduce.sh").read_text().split('STEPS=${STEPS:-"')[1].split('"}')[0].split()
    assert steps.index("ship_real") < steps.index("cross_real")  # it scores the file that ships
