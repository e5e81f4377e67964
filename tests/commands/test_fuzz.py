"""Fuzzing: whatever the hardware file or command line holds, only ConfigError (or success) comes out;
and over random small configurations the simulator keeps its invariants (bounds, capacity, conservation,
each tile once). Example counts are modest so the file runs in well under a minute."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from npu_des.analysis.checks import check_run, rebuild_schedule
from npu_des.cli import main
from npu_des.config import HardwareConfig, RunOptions, hardware_from_dict, load_hardware, run_options
from npu_des.errors import ConfigError
from npu_des.kinds import DIRECTIONS, KINDS
from npu_des.metrics import kinds_of
from npu_des.schedule.plan import plan
from npu_des.sim.driver import simulate
from npu_des.workload import Workload, conv, linear

PRESET = yaml.safe_load((Path(__file__).parents[2] / "npu_des" / "presets" / "edge_dual.yaml").read_text())
SCALE = float(
    os.environ.get("NPU_DES_FUZZ_SCALE", "1")
)  # e.g. 50 for a long hunt: NPU_DES_FUZZ_SCALE=50 pytest ...
FAST = settings(
    max_examples=int(150 * SCALE), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# --- strategies ------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["os", "lru", "explicit", "1e400", ".inf", "-0", "0x10"]),
)
keys = st.one_of(
    st.sampled_from(
        [
            "name",
            "clock_ghz",
            "bytes_per_element",
            "cores",
            "count",
            "array",
            "rows",
            "cols",
            "dataflow",
            "dma",
            "outstanding",
            "spm",
            "capacity_kb",
            "policy",
            "dram",
            "bandwidth_gbps",
            "latency_cycles",
        ]
    ),
    st.text(max_size=8),
    st.integers(-3, 3),
)
nested = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=20,
)


def leaf_paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a nested dict, sections included."""
    paths = []
    if isinstance(data, dict):
        for key, value in data.items():
            paths.append((*prefix, key))
            paths += leaf_paths(value, (*prefix, key))
    return paths


@st.composite
def mutated_presets(draw: st.DrawFn) -> dict[str, Any]:
    """A real preset with a few fields replaced, removed, or added: near-valid input finds the edge cases."""
    data = copy.deepcopy(PRESET)
    for _ in range(draw(st.integers(1, 3))):
        paths = leaf_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(nested)
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[draw(keys)] = draw(scalars)
    return data


def load_or_config_error(loader: Any, *args: Any) -> HardwareConfig | None:
    """The property under test: a HardwareConfig, or a ConfigError whose message is one line."""
    try:
        return loader(*args)
    except ConfigError as error:
        assert "\n" not in str(error), str(error)
        return None


# --- the YAML hardware loader ----------------------------------------------------------------


@FAST
@given(text=st.text(max_size=300))
def test_any_text_file_loads_or_raises_config_error(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("hw") / "fuzz.yaml"
    path.write_text(text)
    load_or_config_error(load_hardware, str(path))


@FAST
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_raise_config_error(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("hw") / "fuzz.yaml"
    path.write_bytes(data)
    load_or_config_error(load_hardware, str(path))


@pytest.mark.slow
@FAST
@given(data=nested)
def test_any_yaml_structure_loads_or_raises_config_error(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("hw") / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data))
    load_or_config_error(load_hardware, str(path))


@FAST
@given(data=mutated_presets())
def test_mutated_preset_validates_or_raises_config_error(data):
    hw = load_or_config_error(hardware_from_dict, data, "fuzz.yaml")
    if hw is not None:  # anything accepted is physically meaningful
        assert hw.clock_ghz > 0 and hw.dram_bytes_per_cycle > 0 and hw.spm.capacity_bytes >= 0
        assert hw.cores.count >= 1 and hw.cores.array.rows >= 1 and hw.cores.array.cols >= 1


# --- command-line option parsing -------------------------------------------------------------


class Planned(Exception):
    """Raised instead of simulating: the options got through parsing, validation and planning."""


def plan_only(workload: Workload, hw: HardwareConfig, options: RunOptions, *args: Any, **kwargs: Any) -> None:
    plan(workload, hw, options)
    raise Planned


SET_KEYS = [
    "clock_ghz",
    "bytes_per_element",
    "cores.count",
    "cores.array.rows",
    "cores.array.dataflow",
    "cores.dma.outstanding",
    "spm.capacity_kb",
    "spm.policy",
    "dram.bandwidth_gbps",
    "dram.latency_cycles",
    "run.prefetch_depth",
    "run.spm_fraction",
    "run.loop_order",
    "run.batch",
    "run.tile.m",
    "run.order",
    "run.baseline",
    "run.partition",
    "run.partitions",
    "run.core_mapping",
    "run.dependencies",
    "run.layer_choices",
    "run.pins",
    "run.sequential_first",
    "spm",
    "run",
    "nope.nope",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1",
            "2",
            "0.5",
            "1e9",
            "true",
            "[1, 2]",
            "{a: 1}",
            "",
            "ws",
            "nan",
            "mnk",
            "auto",
            "dW",
            "rearranged",
            "weight-sharing",
            "dY-sharing",
            "ifmap-sharing",
            "tuned",
            "tile",
            "{conv1: {partition: ifmap-sharing, partitions: 64}}",
            "'",
            "}{",
        ]
    ),
    st.text(max_size=10),
)
# Text echoed by modules outside config.py (--model, --order, --tile, --pin) is not escaped yet, so a control
# character there would print a second line: see test_control_character_in_model_name_stays_on_one_line.
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=10)
LAYERS = ["conv1", "conv2", "conv3", "conv4", "fc", "", "conv1:dY"]
option_items = st.one_of(
    st.builds(
        lambda key, value: f"--set={key}={value}",
        st.one_of(st.sampled_from(SET_KEYS), st.text(max_size=10)),
        VALUES,
    ),
    st.builds(lambda text: f"--set={text}", st.text(max_size=16)),
    st.builds(
        lambda text: f"--tile={text}",
        st.one_of(printable, st.lists(st.integers(-2, 5000).map(str), min_size=1, max_size=4).map(",".join)),
    ),
    st.builds(
        lambda layer, kind: f"--pin={layer}:{kind}",
        st.one_of(st.sampled_from(LAYERS), printable),
        st.one_of(st.sampled_from(KINDS), printable),
    ),
    st.builds(
        lambda text: f"--order={text}",
        st.one_of(
            st.sampled_from(
                ["sequential", "interleaved", "rearranged", "rearranged-best", "fused", "interleaved-auto",
                 "both", "sequential,interleaved", "interleaved,interleaved", ""]
            ),
            printable,
        ),
    ),
    st.builds(
        lambda text: f"--loop-order={text}",
        st.one_of(st.sampled_from(["mnk", "knm", "auto"]), st.text(max_size=4)),
    ),
    st.builds(
        lambda text: f"--model={text}", st.one_of(st.sampled_from(["tiny_cnn", "ncf", "TINY_CNN"]), printable)
    ),
    st.builds(
        lambda text: f"--hw={text}",
        st.one_of(st.sampled_from(["edge_dual", "ethos_n77", "server_dual"]), st.text(max_size=12)),
    ),
    st.builds(lambda value: f"--batch={value}", st.integers(-5, 8)),
    st.builds(lambda value: f"--partition={value}",
              st.sampled_from(["none", "weight-sharing", "dY-sharing", "ifmap-sharing", "auto", "output"])),
    st.builds(lambda value: f"--core-mapping={value}", st.sampled_from(["output", "m", "n", "op", "diag"])),
    st.builds(lambda value: f"--baseline={value}", st.sampled_from(["fixed", "tuned", "best"])),
)


@pytest.mark.slow
@FAST
@given(items=st.lists(option_items, max_size=5))
def test_any_run_options_parse_or_give_one_error_line(items, capsys):
    items = [item.replace("\x00", "") for item in items]  # a NUL byte cannot reach argv
    argv = ["run", "--model=tiny_cnn", *items, "--set=run.max_tasks=5000"]
    with mock.patch("npu_des.sim.driver.simulate", plan_only):  # run imports it when it runs
        try:
            code = main(argv)
        except Planned:
            code = 0
    err = capsys.readouterr().err
    event("planned" if code == 0 else "rejected")
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("npu-des: error: ") and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("option", ["--model=a\nb", "--order=a\nb", "--tile=a\nb", "--pin=a\nb:dY"])
def test_control_character_in_echoed_option_stays_on_one_line(option, capsys):
    assert main(["run", "--model=tiny_cnn", option]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# --- the simulator over random small configurations ------------------------------------------


@st.composite
def small_workloads(draw: st.DrawFn) -> Workload:
    """1-3 small linear or conv layers; a later layer reads one or two earlier ones (skip connections)."""
    layers = []
    for index in range(draw(st.integers(1, 3))):
        inputs: tuple[str, ...] = ()
        if index:
            inputs = tuple(
                sorted(
                    set(
                        draw(
                            st.lists(
                                st.sampled_from([layer.name for layer in layers]), min_size=1, max_size=2
                            )
                        )
                    )
                )
            )
        if draw(st.booleans()):
            layers.append(
                linear(
                    f"fc{index}",
                    inputs,
                    draw(st.integers(1, 48)),
                    draw(st.integers(1, 48)),
                    rows=draw(st.integers(1, 48)),
                )
            )
        else:
            size = draw(st.integers(3, 9))
            groups = draw(st.sampled_from([1, 1, 2]))
            layers.append(
                conv(
                    f"conv{index}",
                    inputs,
                    (groups * draw(st.integers(1, 4)), size, size),
                    groups * draw(st.integers(1, 8)),
                    draw(st.sampled_from([1, 3])),
                    stride=draw(st.sampled_from([1, 2])),
                    groups=groups,
                )
            )
    return Workload("fuzz", tuple(layers))


@st.composite
def small_hardware(draw: st.DrawFn) -> HardwareConfig:
    """Random small hardware, including per-op dataflows, reconfiguration, stationary reuse, zero skipping."""
    dataflow = draw(
        st.one_of(
            st.sampled_from(["os", "ws", "is"]),
            st.fixed_dictionaries(
                {"dX": st.sampled_from(["os", "ws", "is"]), "dW": st.sampled_from(["os", "ws", "is"])}
            ),
        )
    )
    return hardware_from_dict(
        {
            "name": "fuzz",
            "clock_ghz": draw(st.sampled_from([0.5, 1.0])),
            "bytes_per_element": draw(st.sampled_from([1, 2, 4])),
            "cores": {
                "count": draw(st.integers(1, 3)),
                "array": {
                    "rows": draw(st.sampled_from([1, 2, 4, 8, 16])),
                    "cols": draw(st.sampled_from([1, 2, 4, 8, 16])),
                    "dataflow": dataflow,
                    "reconfiguration_cycles": draw(st.sampled_from([0, 0, 7])),
                    "stationary_reuse": draw(st.booleans()),
                    "zero_skipping": draw(st.booleans()),
                },
                "dma": {"outstanding": draw(st.integers(1, 4))},
            },
            "spm": {
                "capacity_kb": draw(st.sampled_from([2, 4, 8, 32, 256])),
                "policy": draw(st.sampled_from(["lru", "explicit"])),
            },
            "dram": {
                "bandwidth_gbps": draw(st.sampled_from([0.5, 4, 32, 1000])),
                "latency_cycles": draw(st.sampled_from([0, 10, 100])),
            },
        }
    )


@st.composite
def small_options(draw: st.DrawFn) -> RunOptions:
    """Backward in either order (with vector ops, sparse dW), or the forward pass with or without fusion."""
    common = {"prefetch_depth": draw(st.integers(0, 2)), "max_tasks": 3000}
    if draw(st.integers(0, 4)) == 0:
        return run_options(**common, fuse=draw(st.sampled_from([(), ("auto",)])), **{"pass": "forward"})
    return run_options(
        **common,
        order=draw(st.sampled_from(["sequential", "interleaved", "rearranged", "rearranged-best", "fused"])),
        baseline=draw(st.sampled_from(["fixed", "tuned"])),
        partition=draw(st.sampled_from(["none", "none", "weight-sharing", "dY-sharing", "ifmap-sharing"])),
        partitions=draw(st.sampled_from([None, 2, 3])),
        core_mapping=draw(st.sampled_from(["output", "m", "n", "op"])),
        dependencies=draw(st.sampled_from(["op", "tile"])),
        loop_order=draw(st.sampled_from(["mnk", "nkm", "kmn", "auto"])),
        sequential_first=draw(st.sampled_from(["dX", "dW"])),
        vector_ops=draw(st.booleans()),
        density=draw(st.sampled_from([1.0, 1.0, 0.5, 0.1])),
    )


@pytest.mark.slow
@settings(max_examples=int(150 * SCALE), deadline=None)
@given(workload=small_workloads(), hw=small_hardware(), options=small_options())
def test_simulator_keeps_its_invariants_on_random_small_configs(workload, hw, options):
    try:
        result = simulate(workload, hw, options)
    except ConfigError:
        assume(False)  # a configuration that cannot fit is rejected before simulating: fine
        return
    event(f"{result.tasks // 100 * 100}+ tasks")
    json.dumps(result.summary())  # the summary is always JSON-ready
    assert result.total_cycles >= result.lower_bound_cycles * (1 - 1e-9)
    # SPM peak <= capacity
    assert result.spm_peak_bytes <= hw.spm.capacity_bytes
    # bytes conservation: DMA transfers in the timeline == the DRAM channel's totals
    moved = {direction: dict.fromkeys(kinds_of(result.dram_bytes), 0) for direction in DIRECTIONS}
    for record in result.timeline:
        if record.resource.endswith(".dma"):
            moved[record.direction][record.kind] += record.bytes
    assert moved == result.dram_bytes
    # every scheduled tile computed exactly once
    schedule = rebuild_schedule(result, workload, hw, options)
    computed = sorted(
        (e.layer, e.op, e.tile) for e in result.timeline if e.resource.endswith((".array", ".vector"))
    )
    assert computed == sorted((t.layer, t.op, ".".join(map(str, t.tile))) for t in schedule.tasks)
    # and everything else the checker knows (dependencies, partial-sum order and hazards, per-layer bounds,
    # ...)
    violations = check_run(result, workload, hw, options)
    assert violations == []


@pytest.mark.parametrize("seed_hw", ["edge_dual", "ethos_n77"])
def test_fuzz_strategies_produce_runnable_configs(seed_hw):
    """Guard against a strategy that only ever produces rejected configs (the property would be vacuous)."""
    workload = Workload("fuzz", (linear("fc0", (), 16, 16, rows=16), linear("fc1", ("fc0",), 16, 8, rows=16)))
    result = simulate(workload, load_hardware(seed_hw), run_options(max_tasks=3000))
    assert result.tasks > 0
