"""The partition predictor (`run.partition: predict`): shipped table, agreement, the optional extra."""

from __future__ import annotations

import sys

import pytest

from npu_des.cli import main
from npu_des.config import load_hardware, run_options
from npu_des.kinds import PARTITION_SCHEMES
from npu_des.models import build_model
from npu_des.schedule import predictor
from npu_des.schedule.plan import plan

pytest.importorskip("sklearn")


def test_shipped_table_labels_distinct_zoo_layers_with_the_three_schemes():
    examples = predictor.load_table()
    assert len(examples) >= 200
    assert {example.label for example in examples} == set(PARTITION_SCHEMES)
    models = {"resnet50", "mobilenet_v1", "googlenet", "ncf", "dlrm", "bert_tiny"}
    assert {e.model for e in examples} >= models


def test_leave_one_model_out_beats_always_guessing_the_commonest_scheme():
    examples = predictor.load_table()
    agreement = predictor.leave_one_model_out(examples)
    pooled = sum(agreement[m] * sum(e.model == m for e in examples) for m in agreement) / len(examples)
    majority = max(sum(e.label == s for e in examples) for s in PARTITION_SCHEMES) / len(examples)
    assert pooled > majority + 0.1


def test_predict_fills_a_scheme_into_every_layer():
    workload = build_model("resnet50")
    options = run_options(order="rearranged", partition="predict")
    schedule, _ = plan(workload, load_hardware("ethos_n77"), options)
    schemes = {choice["partition"] for choice in schedule.layer_choices.values()}
    assert schemes <= {s.value for s in PARTITION_SCHEMES} and len(schemes) >= 2


def test_predict_without_scikit_learn_is_one_error_line_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    for name in [name for name in sys.modules if name.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    predictor._shipped.cache_clear()
    code = main(["run", "--model", "tiny_cnn", "--order", "rearranged", "--partition", "predict"])
    err = capsys.readouterr().err
    predictor._shipped.cache_clear()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("npu-des: error:")
    assert "field 'run.partition'" in err and "npu-des[predict]" in err and "allowed:" in err
