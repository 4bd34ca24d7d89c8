"""Command line: ``ferviz COMMAND`` (also ``python -m ferviz``); ``ferviz --help`` lists the commands.

The commands: train, evaluate, predict, cv, ship, average, adjust, hog-svm, ngo, serve, audit, variants.

argparse lives here only; every command is a thin call into the core (the public API in :mod:`ferviz` where
it has one). One module per command group: :mod:`~ferviz.cli.training` (building models),
:mod:`~ferviz.cli.results` (measuring and shipping them), :mod:`~ferviz.cli.predict` and
:mod:`~ferviz.cli.serve`; :mod:`~ferviz.cli.common` holds the options they share. Expected failures (bad
files, bad datasets, bad checkpoints) print one line naming the file and exit non-zero — no traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ferviz.cli import predict, results, serve, training
from ferviz.errors import FervizError
from ferviz.paths import portable

__all__ = ["build_parser", "main"]

log = logging.getLogger("ferviz")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ferviz", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    training.add_train(sub)
    results.add_evaluate(sub)
    predict.add_predict(sub)
    training.add_cv(sub)
    results.add_ship(sub)
    training.add_average(sub)
    training.add_adjust(sub)
    training.add_hog_svm(sub)
    training.add_ngo(sub)
    serve.add_serve(sub)
    results.add_domains(sub)
    p = sub.add_parser("audit", add_help=False,
                       help="training copies in a split, paired tests of models, --label-noise (--help for options)")
    p.add_argument("rest", nargs=argparse.REMAINDER)  # handled before parsing, by ferviz.results.audits
    training.add_variants(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["audit"]:  # its own parser (ferviz.results.audits), options and --help included
        from ferviz.results.audits import main as audit_main

        return audit_main(argv[1:])
    args = build_parser().parse_args(argv)
    # recorded next to every training run's outputs and in reports and cards: repository-relative paths
    args.argv = ["ferviz", *(portable(word) for word in argv)]
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    distributed = False
    if args.command in ("train", "evaluate", "predict"):  # data-parallel under torchrun, else one process
        from ferviz.train.engine import init_distributed

        distributed = init_distributed()
    try:
        code = args.func(args)
        if distributed:  # every rank waits for the others before its gloo threads go (no abort at exit)
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
        return code
    except (FervizError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = "; `--resume` continues from the last completed epoch" if args.command == "train" else ""
        print(f"interrupted{resume}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
