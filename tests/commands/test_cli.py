"""The CLI: a real default run, files written, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json

import pytest
from conftest import break_component

from npu_des.cli import main


def test_run_writes_summary_layers_and_timeline(tmp_path, capsys):
    assert main(["run", "--model", "tiny_cnn", "--order", "sequential", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["order"] == "sequential" and summary["total_cycles"] > 0
    assert summary["options"]["pass"] == "training" and summary["options"]["batch"] == 4  # micro23_small's
    halves = summary["passes"]
    assert summary["total_cycles"] == halves["forward"]["total_cycles"] + halves["backward"]["total_cycles"]
    rows = (tmp_path / "layers.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["forward"] * 5 + ["backward"] * 5  # tiny_cnn's 5 layers
    assert (tmp_path / "timeline.csv").stat().st_size > 0
    assert "total cycles" in capsys.readouterr().out


def test_both_orders_write_comparison(tmp_path):
    argv = ["run", "--model", "tiny_cnn", "--order", "both", "--pass", "backward", "--out", str(tmp_path)]
    assert main(argv) == 0
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    assert set(comparison) == {"sequential", "interleaved"}
    assert (tmp_path / "interleaved" / "timeline.csv").exists()


def test_the_default_run_compares_the_papers_steps_on_the_small_npu(tmp_path, capsys):
    """`npu-des run` (here on tiny_cnn): a training step on micro23_small in each of the paper's steps
    beside the tuned baseline, the forward half shared, one line per order under the table."""
    assert main(["run", "--model", "tiny_cnn", "--out", str(tmp_path)]) == 0
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    steps = ["sequential", "sequential-tuned", "interleaved", "rearranged", "partitioned"]
    assert set(comparison) == set(steps)
    assert {summary["hardware"] for summary in comparison.values()} == {"micro23_small"}
    assert comparison["sequential-tuned"]["options"]["baseline"] == "tuned"
    assert comparison["partitioned"]["options"]["partition"] == "auto"
    forwards = {json.dumps(summary["passes"]["forward"], sort_keys=True) for summary in comparison.values()}
    assert len(forwards) == 1  # the forward half does not depend on the backward order
    lines = [line for line in capsys.readouterr().out.splitlines() if "-bound (" in line]
    assert [line.split(" ")[0] for line in lines] == steps
    assert all("dY reads" in line for line in lines) and "/ sequential-tuned" in lines[2]
def test_scalesim_memory_model_run_prints_its_notes_and_checks(tmp_path, capsys):
    argv = ["run", "--model", "tiny_cnn", "--hw", "ethos_n77", "--order", "sequential", "--check",
            "--set", "run.memory_model=scalesim", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "note: memory model scalesim: SRAMs ifmap 341 KB" in out and "all invariants hold" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "energy" not in summary and any("no bounds or energy" in note for note in summary["notes"])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--hw", "nope"], "unknown hardware preset 'nope' (allowed: edge_dual"),
        (["run", "--model", "alexnet"], "unknown model 'alexnet' (allowed:"),
        (
            ["run", "--order", "random"],
            "field '--order': unknown order 'random' (allowed: sequential, interleaved",
        ),
        (["run", "--set", "spm.capacity_kb=-5"], "field 'spm.capacity_kb': Input should be greater than 0"),
        (["run", "--set", "cores.count=two"], "field 'cores.count'"),
        (["run", "--set", "cores.array.dataflow=xs"], "field 'cores.array.dataflow'"),
        (["run", "--set", "dram.bandwidth_gbps=0"], "field 'dram.bandwidth_gbps'"),
        (["run", "--tile", "4096,4096,4096"], "exceeds SPM"),
        (["run", "--set", "spm.capacity_kb=1"], "SPM 1 KB gives at least"),
        (["run", "--set", "spm.capacity_kb=0.01"], "exceeds SPM 0 KB"),
        (["run", "--model", "tiny_cnn", "--pin", "conv9:dY"], "unknown layer 'conv9'"),
        (["run", "--model", "tiny_cnn", "--pin", "conv1:dZ"], "unknown tensor kind 'dZ'"),
        (["run", "--model", "tiny_cnn", "--pin", "conv1"], "pin 'conv1' names no tensor kind"),
        (["run", "--model", "resnet50", "--pin", "layer4.0.conv2:W"], "KB over"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("npu-des: error:") and expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_skipped_onnx_nodes_need_the_flag_and_are_reported_in_the_summary(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = [
        numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w1"),
        numpy_helper.from_array(np.zeros((4, 4, 1, 1), np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1], name="conv_a"),
        helper.make_node("Hardmax", ["a"], ["b"], name="hardmax_b"),
        helper.make_node("Conv", ["b", "w2"], ["y"], name="conv_c"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        weights,
    )
    path = tmp_path / "net.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert main(["run", "--onnx", str(path), "--order", "sequential"]) == 2
    assert "node 'hardmax_b': unsupported op 'Hardmax'; use --skip-unsupported" in capsys.readouterr().err
    out = tmp_path / "out"
    assert (
        main(["run", "--onnx", str(path), "--order", "sequential", "--pass", "backward", "--skip-unsupported",
              "--out", str(out)])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    (note,) = summary["notes"]
    assert note.startswith("skipped 1 unsupported ONNX node(s) as pass-through, dropping 0 MACs (0.00% of")
    assert note.endswith(": hardmax_b (Hardmax, 0 MACs, 2.0 KB)")  # a and b: 2 x 1x4x8x8 floats
    assert [row.split(",")[0] for row in (out / "layers.csv").read_text().splitlines()[1:]] == [
        "conv_a",
        "conv_c",
    ]


def test_run_check_passes_on_a_real_run_and_fails_on_a_broken_channel(monkeypatch, capsys):
    assert main(["run", "--model", "tiny_cnn", "--check"]) == 0
    assert "check: all invariants hold" in capsys.readouterr().out
    from npu_des.sim.components.dram import DramChannel

    honest = DramChannel.start  # every DMA transfer goes through it

    def double_counting(self, nbytes, kind, direction, finished):
        self.bytes[(kind, direction)] = self.bytes.get((kind, direction), 0) + nbytes
        return honest(self, nbytes, kind, direction, finished)

    break_component(monkeypatch, DramChannel, "start", double_counting)
    assert main(["run", "--model", "tiny_cnn", "--order", "sequential", "--check"]) == 1
    assert "npu-des: check failed: sequential: forward half: bytes:" in capsys.readouterr().err


def test_a_single_fuse_or_pin_value_needs_no_list_brackets(capsys):
    assert main(["run", "--model", "tiny_cnn", "--set", "run.pass=forward", "--set", "run.fuse=auto"]) == 0
    assert main(["run", "--model", "tiny_cnn", "--order", "sequential", "--set", "run.pins=conv1:dY"]) == 0


def test_models_piped_is_plain_text_with_every_model(capsys):
    """Not a terminal (captured, as in a pipe): aligned plain text, no box drawing, every zoo model whole."""
    from npu_des.models import model_names

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert not set(out) & set("┏┃━│─╇┡└┘┌┐") and "…" not in out
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["model", "layers", "GMACs"] and set(lines[2]) <= {"-", " "}
    assert [line.split()[0] for line in lines[3:]] == model_names()
    assert main(["models", "--batch", "0"]) == 2
    assert "field '--batch'" in capsys.readouterr().err


def test_a_run_over_the_default_task_limit_says_so_once_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    """With run.max_tasks raised, a plan over the default limit runs; with no progress bar (stderr captured,
    as in a log) one notice line gives its task count and wall-time estimate before it starts. The default
    limit is lowered here so tiny_cnn stands in for a multi-hour plan."""
    from npu_des.commands import _notice

    monkeypatch.setattr(_notice, "default_max_tasks", lambda: 5)
    assert main(["run", "--model", "tiny_cnn", "--hw", "edge_dual", "--pass", "backward",
                 "--order", "sequential", "--set", "run.max_tasks=100000", "--json"]) == 0
    captured = capsys.readouterr()
    tasks = json.loads(captured.out)[0]["tasks"]
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"npu-des: notice: tiny_cnn sequential: {tasks:,} tile tasks")
    assert "the default refuses over 5" in captured.err
    assert "min of simulation at 10,000 tasks/s" in captured.err
    monkeypatch.setattr(_notice, "default_max_tasks", lambda: tasks)  # at the limit: silent
    assert main(["run", "--model", "tiny_cnn", "--order", "sequential", "--json"]) == 0
    assert capsys.readouterr().err == ""
