"""fp32 means fp32 (issue 13.1): TF32 is off inside a run and inside an evaluation unless the
run opts in with ``precision: tf32``; the valid precisions live in one place."""

from __future__ import annotations

import pytest
import torch

from landscape import ARCHITECTURES
from landscape.evaluation import Evaluator, protocol_for
from landscape.train import RunSpec, train
from landscape.train.precision import PRECISIONS, float32_mode, tf32_flags
from landscape.train.update import GanUpdate

TINY = dict(
    dataset="digits",
    architecture="sndcgan",
    width=1 / 16,
    batch_size=16,
    steps=2,
    eval_every=2,
    seed=3,
)
OFF = {"matmul.allow_tf32": False, "cudnn.allow_tf32": False, "float32_matmul_precision": "highest"}
ON = {"matmul.allow_tf32": True, "cudnn.allow_tf32": True, "float32_matmul_precision": "high"}


@pytest.fixture
def torch_defaults():
    """Start from PyTorch's own defaults (cuDNN TF32 on) and put back what was there."""
    before = tf32_flags()
    torch.backends.cudnn.allow_tf32 = True
    yield
    torch.backends.cuda.matmul.allow_tf32 = before["matmul.allow_tf32"]
    torch.set_float32_matmul_precision(before["float32_matmul_precision"])
    torch.backends.cudnn.allow_tf32 = before["cudnn.allow_tf32"]


@pytest.mark.parametrize(("precision", "expected"), [("fp32", OFF), ("tf32", ON), ("bf16", OFF)])
def test_flags_inside_a_run_follow_its_precision(
    tmp_path, monkeypatch, torch_defaults, precision, expected
):
    seen: dict[str, list] = {"step": [], "eval": []}
    step = GanUpdate.__call__

    def spy_step(self, *args, **kwargs):
        seen["step"].append(tf32_flags())
        return step(self, *args, **kwargs)

    monkeypatch.setattr(GanUpdate, "__call__", spy_step)
    outside = tf32_flags()

    def evaluate(G):
        seen["eval"].append(tf32_flags())
        return {}

    spec = RunSpec(**TINY, precision=precision)
    result = train(spec, tmp_path / "run", evaluate=evaluate, progress=False)
    assert result.status == "ok"
    assert seen["step"] == [expected] * 2  # both D steps
    assert seen["eval"] == [expected] * 2  # steps 0 and 2
    assert tf32_flags() == outside  # the process is left as it was
    assert outside["cudnn.allow_tf32"] is True  # PyTorch's default: why fp32 must say so


def test_an_evaluation_is_strict_float32_even_inside_a_tf32_block(cache, torch_defaults):
    G = ARCHITECTURES["sndcgan"](resolution=32, channels=1, width=1 / 16).generator
    seen = []
    G.register_forward_pre_hook(lambda *_: seen.append(tf32_flags()))
    evaluator = Evaluator(protocol_for("digits"), cache_dir=cache)
    with float32_mode("tf32"):
        assert tf32_flags() == ON
        record = evaluator(G)
        assert (
            record["protocol"]["arithmetic"] == "float32, TF32 off (matmuls and cuDNN convolutions)"
        )
        assert tf32_flags() == ON  # restored after the evaluation
    assert seen and all(flags == OFF for flags in seen)


def test_precision_values_live_in_one_place_and_fp32_ids_do_not_move():
    assert PRECISIONS == ("fp32", "tf32", "bf16")
    assert RunSpec(**TINY).precision == "fp32"
    # this run's id before the tf32 option existed (commit d35862c; training protocol 1)
    old = RunSpec(**{**TINY, "steps": 12, "eval_every": 4, "protocol_version": 1})
    assert old.run_id == "283f39a721a3"
    ids = {RunSpec(**TINY, precision=p).run_id for p in PRECISIONS}
    assert len(ids) == 3  # tf32 is part of the run id, like bf16
    with pytest.raises(ValueError, match="invalid precision = 'fp16'; must be one of fp32, tf32"):
        RunSpec(**TINY, precision="fp16")
    with pytest.raises(ValueError, match="unknown precision 'tf16'; choose from: bf16, fp32, tf32"):
        with float32_mode("tf16"):
            pass


def test_reference_features_are_strict_float32_inside_a_tf32_block(cache, torch_defaults):
    """`landscape prepare-stats` and `landscape floor` extract features outside any run."""
    from landscape.evaluation.features import extract

    extractor = Evaluator(protocol_for("digits"), cache_dir=cache).extractor
    flags = []
    hook = extractor.register_forward_pre_hook(lambda *_: flags.append(tf32_flags()))
    with float32_mode("tf32"):
        extract(extractor, [torch.zeros(2, 1, 32, 32)])
        assert tf32_flags() == ON
    hook.remove()
    assert flags and all(f == OFF for f in flags)
