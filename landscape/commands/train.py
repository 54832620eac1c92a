"""Train one run from the command line: every RunSpec field is a flag (or comes from --config).

Example: landscape train --dataset digits --architecture sndcgan --width 0.125 --steps 500
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from pathlib import Path

import yaml

from landscape.records import DEFAULT_KEEP_GENERATORS, KEEP_GENERATORS, RUNS_DIR, Status
from landscape.train import RunSpec, train

HELP = "train a single run (resumes it if interrupted)"
INTERNAL = ("legacy_eval_id",)  # read from recorded runs (RunSpec.from_record), never typed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="a YAML or JSON file with RunSpec fields")
    hints = typing.get_type_hints(RunSpec)
    for f in dataclasses.fields(RunSpec):
        if f.name in INTERNAL:
            continue
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        text = "required" if default is dataclasses.MISSING else f"default: {default!r}"
        names = {f"--{f.name}", f"--{f.name.replace('_', '-')}"}  # --n_disc or --n-disc
        kind = {"penalty_weight": float, "eval_samples": int, "extractor": str}.get(
            f.name, hints[f.name]
        )
        if kind not in (int, float, str):
            kind, text = json.loads, f"JSON, {text}"
        parser.add_argument(*sorted(names), dest=f.name, type=kind, help=text)
    parser.add_argument("--out", type=Path, help="run folder (default results/runs/<run_id>)")
    parser.add_argument("--device", help="cuda, cuda:1, cpu (default: CUDA when present)")
    parser.add_argument("--data-root", type=Path, help="where data sets live")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--no-eval", action="store_true", help="skip IS/FID/KID evaluations")
    parser.add_argument(
        "--keep-generators",
        choices=KEEP_GENERATORS,
        default=DEFAULT_KEEP_GENERATORS,
        help="keep G at the best evaluation (default) or at every one",
    )


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    values = yaml.safe_load(args.config.read_text()) if args.config else {}
    if not isinstance(values, dict):
        raise ValueError(f"{args.config}: expected a mapping of RunSpec fields")
    for f in dataclasses.fields(RunSpec):
        if f.name not in INTERNAL and getattr(args, f.name, None) is not None:
            values[f.name] = getattr(args, f.name)
    missing = [k for k in ("dataset", "architecture") if k not in values]
    if missing:
        raise ValueError(f"missing {', '.join('--' + k for k in missing)}")
    return RunSpec.from_dict(values)


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    out = args.out or Path("results") / RUNS_DIR / spec.run_id
    evaluate = None
    if not args.no_eval:
        from landscape.evaluation import Evaluator, protocol_of

        protocol = protocol_of(spec)
        evaluate = Evaluator(protocol, data_root=args.data_root, device=args.device or "cpu")
    result = train(
        spec,
        out,
        device=args.device,
        evaluate=evaluate,
        data_root=args.data_root,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        progress=sys.stderr.isatty(),
        keep_generators=args.keep_generators,
    )
    print(f"{result.status}: run {result.run_id} at step {result.step} in {result.path}")
    return 130 if result.status == Status.INTERRUPTED else 0
