"""SCALE-Sim topology CSVs are read as SCALE-Sim's own parser reads them (differential against recorded
SCALE-Sim 3.0.0 parses: tests/importers/data/scalesim/), and what it crashes on is one ConfigError line.

Two kinds of reference: real shipped topology files (v2 and v3) with the MACs SCALE-Sim computed for
each layer, and synthetic variants (header typos, BOM, CRLF, trailing commas, v3 sparsity, ...) with
the layer parameters SCALE-Sim parsed. Formatting SCALE-Sim trips over although the values are plain
(a missing or doubled trailing comma, a `,,,,` row, extra columns) is accepted on purpose
(docs/inputs.md); those cases are listed in LENIENT with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npu_des.errors import ConfigError
from npu_des.importers.scalesim import read_topology

DATA = Path(__file__).parent / "data" / "scalesim"
EXPECTED = json.loads((DATA / "scalesim_expected.json").read_text())
VARIANTS = json.loads((DATA / "parser_variants.json").read_text())

# SCALE-Sim crashes, npu-des reads the values that are plainly there
LENIENT = {
    "v3/conv_nets/MobileNet_4k_non_dw.csv": "rows without a trailing comma",
    "v3/conv_nets/Resnet50.csv": "a ',,,,' row and extra columns Eh, Ew, e2 (ignored, with a note)",
    "v3/llama/llama3b.csv": "a 9th 'Batch Size' column, which SCALE-Sim reads as N:M sparsity (ignored)",
    "v3/mlperf/Transformer_short.csv": "a ',,,,' row",
    "conv/no_trailing_comma": "rows without a trailing comma",
    "conv/two_trailing_commas": "two trailing commas",
    "conv/empty_fields_row": "a ',,,,' row",
    "conv/extra_numeric_col_batch": "a 9th column that is not N:M (ignored, with a note)",
    "gemm/no_trailing_comma": "rows without a trailing comma",
    "gemm/two_trailing_commas": "two trailing commas",
    "gemm/extra_numeric_col": "a 5th column that is not N:M (ignored, with a note)",
    "gemm/conv_row_in_gemm_mode": "a conv file read by its header, which names the conv format",
}
# SCALE-Sim accepts, npu-des refuses: a layer with zero filters has no work to simulate
REFUSED = {"conv/zero_filters": "Num Filter", "conv/only_header": "no layers after the header"}


def macs(workload) -> list[int]:
    return [layer.gemm.M * layer.gemm.K * layer.gemm.N * layer.gemm.groups for layer in workload.layers]


def assert_one_line(error: ConfigError, path: Path) -> None:
    text = str(error)
    assert "\n" not in text and str(path) in text, text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_topology_reads_as_scalesim_reads_it(name: str) -> None:
    path, expected = DATA / name, EXPECTED[name]
    if "scalesim_error" in expected and name not in LENIENT:
        with pytest.raises(ConfigError) as refused:
            read_topology(path)
        assert_one_line(refused.value, path)
        return
    workload, notes = read_topology(path)
    assert all("\n" not in note for note in notes)
    if "macs" in expected:
        assert macs(workload) == [count for _, count in expected["macs"]]
        assert workload.layers[0].name == expected["macs"][0][0].strip('"')
    else:  # lenient: every data row became a layer with positive work
        assert workload.layers and all(count > 0 for count in macs(workload))


def test_shipped_files_cover_every_variant_the_brief_names() -> None:
    raw = {name: (DATA / name).read_bytes() for name in EXPECTED}
    assert any(data.startswith(b"\xef\xbb\xbf") for data in raw.values())        # BOM
    assert any(b"\r\n" in data for data in raw.values())                           # CRLF
    assert any(b"Sparsity" in data.splitlines()[0] for data in raw.values())      # v3 sparsity column
    assert {expected["format"] for expected in EXPECTED.values()} == {"conv", "gemm"}
    assert {name.split("/")[0] for name in EXPECTED} == {"v2", "v3"}


def test_header_typo_is_a_note_and_columns_are_read_by_position() -> None:
    workload, notes = read_topology(DATA / "v3/deepbench/DeepBenchConv/OCR.csv")
    assert len(notes) == 1 and "not SCALE-Sim's conv" in notes[0] and "by position" in notes[0]
    assert len(workload.layers) == 4


def test_v3_sparsity_column_is_read_and_reported_as_not_modelled() -> None:
    workload, notes = read_topology(DATA / "v3/sparsity/conv.csv")
    assert macs(workload) == [count for _, count in EXPECTED["v3/sparsity/conv.csv"]["macs"]]
    assert any("N:M weight sparsity" in note and "dense" in note for note in notes)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_parser_variant_reads_as_scalesim_reads_it(tmp_path: Path, name: str) -> None:
    variant = VARIANTS[name]
    path = tmp_path / "topo.csv"
    path.write_bytes(variant["text"].encode("utf-8"))
    if name in REFUSED:
        with pytest.raises(ConfigError, match=REFUSED[name]):
            read_topology(path)
        return
    if "scalesim_error" in variant and name not in LENIENT:
        with pytest.raises(ConfigError) as refused:
            read_topology(path)
        assert_one_line(refused.value, path)
        return
    workload, _ = read_topology(path)
    if "layers" not in variant:
        return
    expected = []
    for params, hyper in zip(variant["layers"], variant["ofmap_h_w_macs_window"]):
        base = params[0].split("Channel_")[0] if "Channel_" in params[0] else params[0]
        if expected and "Channel_" in params[0] and expected[-1][0] == base:
            expected[-1][1] += hyper[2]
        else:
            expected.append([base, hyper[2]])
    assert macs(workload) == [count for _, count in expected]
    assert [layer.name for layer in workload.layers] == [n.strip('"') for n, _ in expected]


@pytest.mark.parametrize(("text", "message"), [
    ("Layer, M, N, K,\ng1\t64\t32\t128\t\n", "separated by tabs"),
    ("Layer, M, N, K,\ng1;64;32;128;\n", "separated by semicolons"),
    ("Layer, M, N, K,\nBlock A,\ng1, 64, 32, 128,\n", "has a name but no values"),
    ("Layer, M, N, K,\ng1, " + "9" * 5000 + ", 32, 128,\n", r"field 'M': .*5000 characters"),
    ("Layer, M, N, K,\ng1, 4294967296, 32, 128,\n", r"field 'M': .*allowed: 1\.\.2147483647"),
    ("Layer, M, N, K,\ng1, 64, 3.5, 128,\n", r"field 'N': expected a positive integer \(got '3.5'\)"),
    ("Layer, M, N, K,\ng1, 64, 32, \u0665,\n", r"field 'K': expected a positive integer"),
])
def test_values_scalesim_cannot_read_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "topo.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as refused:
        read_topology(path)
    assert_one_line(refused.value, path)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_and_utf16_files_read_like_plain_utf8(tmp_path: Path, encoding: str) -> None:
    text = (DATA / "v3/conv_nets/alexnet.csv").read_text()
    plain, encoded = tmp_path / "plain.csv", tmp_path / "encoded.csv"
    plain.write_text(text)
    encoded.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    assert macs(read_topology(encoded)[0]) == macs(read_topology(plain)[0])


def test_latin1_file_names_the_byte_and_line(tmp_path: Path) -> None:
    path = tmp_path / "topo.csv"
    path.write_bytes("Layer, M, N, K,\ncaf\u00e9, 64, 32, 128,\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text: byte 0xe9 at line 2"):
        read_topology(path)


SEEDS = sorted(name for name, expected in EXPECTED.items() if (DATA / name).stat().st_size < 4000)
MUTATIONS = st.sampled_from(["delete", "insert", "replace", "duplicate_line", "truncate"])
NOISE = st.sampled_from([",", "\n", "\r", "\t", ";", ":", "#", '"', " ", "0", "-1", "1e309", "\x00", "\xff",
                         "\ufeff", "9" * 5000, "DP", "x", "\u0665", "M,N,K"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), edits=st.lists(st.tuples(MUTATIONS, st.integers(0, 4000), NOISE),
                                                   min_size=1, max_size=6))
def test_mutated_shipped_topologies_never_raise_anything_but_config_error(tmp_path, seed, edits) -> None:
    text = mutated((DATA / seed).read_bytes().decode("utf-8", errors="replace"), edits)
    path = tmp_path / "mutated.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        workload, notes = read_topology(path)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert workload.layers and all(count > 0 for count in macs(workload))
    assert all("\n" not in note for note in notes)
