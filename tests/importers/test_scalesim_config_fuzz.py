"""The SCALE-Sim .cfg reader never raises anything but ConfigError (one line), whatever the bytes: the
configs SCALE-Sim ships (tests/importers/data/scalesim/configs, MIT), mutated. What the mapping means
is tested elsewhere; this only guards the reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npu_des.errors import ConfigError
from npu_des.importers import load_scalesim_config

ROOT = Path(__file__).parent / "data" / "scalesim" / "configs"
CONFIGS = sorted(ROOT.rglob("*.cfg"))
GOOGLE = ROOT / "v3" / "google.cfg"
NOISE = st.sampled_from(["%", "%(x)s", "%%", "[", "]", "[general]", "=", ":", "\n", "\r\n", "\t", " ", ";",
                         "#", "\x00", "\xff", "\ufeff", "9" * 5000, "-1", "0", "1e-310", "nan", "inf",
                         "Bandwidth : 10", "Dataflow : rs", "ArrayHeight: 0", ",", "10,20,", "\\"])


def test_every_shipped_config_reads() -> None:
    assert len(CONFIGS) >= 10
    for path in CONFIGS:
        data, unmapped = load_scalesim_config(path)
        assert data["cores"]["array"]["rows"] >= 1 and all("\n" not in key for key in unmapped)


@pytest.mark.parametrize(("change", "message"), [
    (lambda text: text.replace("Bandwidth : 10", "Bandwidth : 10%"), "Bandwidth"),
    (lambda text: text.replace("run_name = ", "run_name = 100%(done)s "), None),
    (lambda text: text.replace("ArrayHeight:    256", "ArrayHeight: " + "9" * 5000), "ArrayHeight"),
    (lambda text: text.replace("ArrayWidth:     256", "ArrayWidth: 256\nArrayWidth: 128"), "ArrayWidth"),
    (lambda text: text + "\n[general]\nrun_name = again\n", "general"),
])
def test_interpolation_huge_numbers_and_duplicates_are_one_line(tmp_path: Path, change, message) -> None:
    path = tmp_path / "scale.cfg"
    path.write_text(change(GOOGLE.read_text()))
    try:
        load_scalesim_config(path)
    except ConfigError as error:
        assert "\n" not in str(error) and len(str(error)) < 600, str(error)
        if message:
            assert message in str(error)
        return
    assert message is None  # '%' in a run name is just text


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "latin-1"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    text = GOOGLE.read_text().replace("GoogleTPU", "Google\u00e9")
    path = tmp_path / "scale.cfg"
    path.write_bytes(text.encode(encoding))
    if encoding == "latin-1":
        with pytest.raises(ConfigError, match=r"not UTF-8 text: byte 0xe9 at line 2"):
            load_scalesim_config(path)
    else:
        assert load_scalesim_config(path)[0]["name"] == "Google\u00e9_v1_os"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(CONFIGS), edits=st.lists(
    st.tuples(st.sampled_from(["insert", "replace", "delete", "truncate"]), st.integers(0, 3000), NOISE),
    min_size=1, max_size=6))
def test_mutated_configs_raise_only_config_error(tmp_path: Path, seed: Path, edits) -> None:
    text = mutated(seed.read_text(), edits)
    path = tmp_path / "mutated.cfg"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        data, unmapped = load_scalesim_config(path)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert data["cores"]["array"]["rows"] >= 1 and all("\n" not in key for key in unmapped)
