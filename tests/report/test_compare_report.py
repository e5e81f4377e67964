"""`npu-des compare` and `npu-des report` on saved runs: deltas that add up, one-line errors for runs of
different models, stall reasons when a run has them, and an HTML report that links nothing and renders."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from npu_des.cli import main
from npu_des.report.explained import stall_totals
from npu_des.report.saved import load_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """tiny_cnn on edge_dual, both orders, as `npu-des run --out` writes it."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["run", "--model", "tiny_cnn", "--out", str(out)]) == 0
    return out


def with_stalls(source: Path, target: Path, scale: int) -> Path:
    """A copy of a saved run with synthetic stall data in the shapes the simulator writes: summary.json
    `stalls` {core: {reason: cycles}} and layers.csv `stall_<reason>_cycles` columns."""
    shutil.copytree(source, target)
    summary = json.loads((target / "summary.json").read_text())
    summary["stalls"] = {"core0": {"load_contention": 100 * scale, "dependency": 40},
                         "core1": {"load_contention": 10 * scale, "dependency": 0}}
    (target / "summary.json").write_text(json.dumps(summary))
    with (target / "layers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for index, row in enumerate(rows):
        row["stall_load_contention_cycles"] = str(scale * index)
    with (target / "layers.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_compare_prints_totals_and_per_layer_deltas_and_draws_a_chart(runs, tmp_path, capsys):
    capsys.readouterr()  # the fixture's run output
    assert main(["compare", str(runs / "sequential"), str(runs / "interleaved"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\u2502" not in out and "\u2501" not in out  # plain text when not a terminal: no box drawing
    seq, inter = (
        json.loads((runs / order / "summary.json").read_text()) for order in ("sequential", "interleaved")
    )
    delta = inter["total_dram_bytes"] - seq["total_dram_bytes"]
    total_line = next(line for line in out.splitlines() if line.startswith("DRAM total (B)"))
    assert (f" {delta:+,} (" if delta else " 0 (1.000x)") in total_line
    time_line = next(line for line in out.splitlines() if line.startswith("time (cycles)"))
    change = inter["total_cycles"] - seq["total_cycles"]
    ratio = inter["total_cycles"] / seq["total_cycles"]
    assert (f"{change:+,.0f} ({ratio:.3f}x)" if change else f" 0 ({ratio:.3f}x)") in time_line
    assert "energy (uJ)" in out and "energy dram (uJ)" in out
    for row in load_runs(runs / "sequential")[0].layers:
        assert any(line.startswith(row["layer"] + " ") for line in out.splitlines()), row["layer"]
    assert (tmp_path / "compare.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "compare.svg").is_file()


def test_compare_of_one_directory_compares_its_orders(runs, capsys):
    assert main(["compare", str(runs), "--formats", "png"]) == 0
    assert "interleaved against sequential" in capsys.readouterr().out
    assert (runs / "compare.png").is_file()


def test_compare_on_runs_of_different_models_is_one_line_naming_the_file(runs, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(runs / "interleaved", other)
    summary = json.loads((other / "summary.json").read_text())
    summary["model"] = "resnet50"
    (other / "summary.json").write_text(json.dumps(summary))
    assert main(["compare", str(runs / "sequential"), str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("npu-des: error: ")
    assert f"{other / 'summary.json'}: field 'model'" in err and "resnet50" in err


def test_compare_includes_stall_reasons_when_the_runs_have_them(runs, tmp_path, capsys):
    a = with_stalls(runs / "sequential", tmp_path / "a", 1)
    b = with_stalls(runs / "interleaved", tmp_path / "b", 3)
    assert stall_totals(json.loads((b / "summary.json").read_text())) == {
        "load_contention": 330.0,
        "dependency": 40.0,
    }
    assert main(["compare", str(a), str(b), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if line.startswith("stall load_contention (cycles)"))
    assert "+220 (3.000x)" in total  # 110 -> 330 cycles
    assert "d stall load_contention (cycles)" in out  # the per-layer column
    last = load_runs(a)[0].layers[-1]["layer"]
    layer_line = next(line for line in out.splitlines() if line.startswith(last + " "))
    assert f"+{2 * (len(load_runs(a)[0].layers) - 1)} (3.000x)" in layer_line


def test_stall_totals_of_a_saved_run_add_up_its_cores(runs):
    for order in ("sequential", "interleaved"):
        summary = json.loads((runs / order / "summary.json").read_text())
        totals = stall_totals(summary)
        cores = summary["stalls"].values()
        assert set(totals) == {"dependency", "spm_space", "load_contention", "load_transfer", "idle"}
        assert totals == {reason: sum(core[reason] for core in cores) for reason in totals}
        busy = sum(core["compute"] for core in cores)  # compute is not a stall; with it, every cycle
        assert busy + sum(totals.values()) == pytest.approx(summary["cores"] * summary["total_cycles"],
                                                            rel=1e-12)


class Links(HTMLParser):
    """Every src/href of a page, and the tags that carry them."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") or (name == "style" and value and "url(" in value):
                self.links.append((tag, name, value or ""))


def test_report_is_one_self_contained_html_file(runs, tmp_path, capsys):
    source = with_stalls(runs / "interleaved", tmp_path / "run", 2)
    assert main(["report", str(source)]) == 0
    page = (source / "report.html").read_text()
    parser = Links()
    parser.feed(page)
    assert "script" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    images = [value for tag, _, value in parser.links if tag == "img"]
    assert len(images) >= 4  # roofline, energy, Gantt, per-layer bytes
    assert all(tag == "img" and value.startswith("data:image/png;base64,") for tag, _, value in parser.links)
    import base64

    for value in images:
        assert base64.b64decode(value.partition(",")[2]).startswith(PNG_MAGIC)
    assert "url(" not in page and "@import" not in page
    assert "TOPS/W" in page and "run option" in page and "stall_load_contention_cycles" in page
    assert "stall: load_contention" in page


def test_report_of_both_orders_embeds_the_comparison(runs, tmp_path):
    out = tmp_path / "both.html"
    assert main(["report", str(runs), "--out", str(out)]) == 0
    page = out.read_text()
    assert "Per-layer deltas against sequential" in page and page.count("<img") >= 5


@pytest.mark.slow
def test_report_renders_in_a_headless_browser_to_a_non_blank_page(runs, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no headless browser here (Debian: apt-get install -y chromium)")
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    assert main(["report", str(runs), "--out", str(page)]) == 0
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,2000",
        f"--screenshot={shot}",
    ]
    subprocess.run([browser, *flags, page.as_uri()], capture_output=True, timeout=180, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    dark = (pixels.mean(axis=2) < 0.8).mean()
    assert dark > 0.01, f"only {dark:.2%} of the screenshot is not near-white"
    assert pixels.std() > 0.05


def test_roofline_of_a_saved_run_puts_every_point_under_the_roof(runs, tmp_path):
    from npu_des.report.roofline import draw_roofline, roofline

    saved = load_runs(runs)
    for run in saved:
        line = roofline(run)
        assert line.layers and len(line.layers) + line.left_out == len(run.layers)
        for intensity, rate in zip(line.intensity, line.macs_per_second):
            assert rate <= line.roof(intensity) * (1 + 1e-9)
    assert draw_roofline(saved, tmp_path / "roofline", ("png",))[0].read_bytes().startswith(PNG_MAGIC)


def test_roofline_of_a_run_without_bounds_is_a_one_line_error(runs, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(runs / "sequential", old)
    summary = json.loads((old / "summary.json").read_text())
    del summary["bounds"]
    (old / "summary.json").write_text(json.dumps(summary))
    from npu_des.errors import ConfigError
    from npu_des.report.roofline import roofline

    with pytest.raises(ConfigError, match="no per-layer bounds"):
        roofline(load_runs(old)[0])
    assert main(["report", str(old)]) == 0  # the report notes the missing chart and keeps the rest
    assert "Roofline (one point per layer): not drawn" in (old / "report.html").read_text()
