"""config.py input handling: YAML values on the command line, duplicate keys, errors naming the override."""

from __future__ import annotations

from pathlib import Path

import pytest

from npu_des.config import describe, load_hardware, load_yaml, parse_value, run_options
from npu_des.errors import ConfigError

PRESET = Path(__file__).parent / "bad_inputs" / "good" / "small.yaml"


@pytest.mark.parametrize(("text", "value"), [
    ("{dX:ws,dW:os}", {"dX": "ws", "dW": "os"}),
    ("{dX: ws, dW: os}", {"dX": "ws", "dW": "os"}),
    ("{dX:ws}", {"dX": "ws"}),
    ("[conv1:dY,conv2:dY]", ["conv1:dY", "conv2:dY"]),
    ("22", 22),
    ("ws", "ws"),
    ("{a: 1", "{a: 1"),  # not YAML: the text itself, which validation then judges
])
def test_command_line_values(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_dataflow_mapping_without_spaces_configures_the_array() -> None:
    hardware = load_hardware("edge_dual", ["cores.array.dataflow={dX:ws,dW:os}"])
    assert hardware.cores.array.dataflow == {"dX": "ws", "dW": "os"}


def test_duplicate_keys_name_key_and_both_lines() -> None:
    with pytest.raises(ConfigError, match=r"f.yaml: key 'b' appears twice \(lines 2 and 4\)"):
        load_yaml("a: 1\nb:\n  c: 2\nb: 3\n", "f.yaml")
    assert load_yaml("a: {b: 1}\nc: {b: 2}\n", "f.yaml") == {"a": {"b": 1}, "c": {"b": 2}}  # other mappings


def test_utf16_hardware_file_loads_like_utf8(tmp_path: Path) -> None:
    path = tmp_path / "hw.yaml"
    path.write_bytes(PRESET.read_text().encode("utf-16"))
    assert load_hardware(str(path)) == load_hardware(str(PRESET))


def test_errors_name_the_override_and_the_preset_not_its_installed_path() -> None:
    with pytest.raises(ConfigError) as refused:
        load_hardware("edge_dual", ["dram.bandwidth_gbps=-1"])
    text = str(refused.value)
    assert text.startswith("--set dram.bandwidth_gbps=-1 (on hardware preset 'edge_dual')")
    assert "/" not in text
    with pytest.raises(ConfigError, match=r"^--set run.prefetch_depth=9: field 'run.prefetch_depth'"):
        run_options(["run.prefetch_depth=9"])


def test_describe_keeps_huge_values_short() -> None:
    assert describe(10**4000) == "an integer of about 4001 digits"
    assert describe("x" * 500).endswith("(500 characters)") and len(describe("x" * 500)) < 120
