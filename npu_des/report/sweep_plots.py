"""Plots of a sweep table: interleaved / sequential time, and absolute time, against one swept key.

One line per combination of the fields that vary (model, hardware, variant, other swept keys),
labelled by only those, so a one-model sweep is not cluttered with its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from npu_des.errors import ConfigError

if TYPE_CHECKING:
    import pandas
    from matplotlib.axes import Axes

IDENTITY = ("model", "hw", "variant")


def is_numeric_key(frame: pandas.DataFrame, key: str) -> bool:
    import pandas

    return bool(
        pandas.api.types.is_numeric_dtype(frame[key]) and not pandas.api.types.is_bool_dtype(frame[key])
    )


def choose_x(frame: pandas.DataFrame, keys: list[str], x: str | None) -> str:
    """The named key, else the first numeric swept key with more than one value."""
    if x is not None:
        if x not in keys:
            raise ConfigError(
                f"'{x}' is not a swept key of this sweep", field="--x", allowed=", ".join(keys) or None
            )
        if not is_numeric_key(frame, x):
            raise ConfigError(f"'{x}' has non-numeric values", field="--x")
        return x
    for key in keys:
        if is_numeric_key(frame, key) and frame[key].nunique() > 1:
            return key
    raise ConfigError(
        "the sweep has no numeric key with several values to plot against",
        field="--x",
        allowed=", ".join(keys) or None,
    )


def group_fields(frame: pandas.DataFrame, keys: list[str], x: str) -> list[str]:
    """Fields other than x and order that take more than one value: each combination is one line."""
    return [name for name in (*IDENTITY, *keys) if name != x and frame[name].nunique() > 1]


def paired_orders(frame: pandas.DataFrame, keys: list[str]) -> pandas.DataFrame:
    """One row per configuration with sequential and interleaved seconds side by side, and their ratio."""
    ok = frame[frame["error"].fillna("") == ""]
    index = [*IDENTITY, *keys]
    wide = ok.pivot_table(index=index, columns="order", values="seconds", aggfunc="first").reset_index()
    if "sequential" not in wide or "interleaved" not in wide:
        raise ConfigError("normalized time needs both orders in the sweep", field="--order")
    wide = wide.dropna(subset=["sequential", "interleaved"])
    wide["ratio"] = wide["interleaved"] / wide["sequential"]
    wide.columns.name = None
    return wide


def _label(row: pandas.Series, fields: list[str]) -> str:
    """Model and hardware always; then whatever else varies between lines."""
    shown = ["model", "hw", *(name for name in fields if name not in ("model", "hw"))]
    return ", ".join(f"{row[name]}" if name in IDENTITY else f"{name}={row[name]}" for name in shown)


def _style_x(axes: Axes, values: pandas.Series, x: str) -> None:
    low, high = float(values.min()), float(values.max())
    if low > 0 and high / low >= 8:
        axes.set_xscale("log")
    axes.set_xlabel(x)
    axes.grid(True, which="both", alpha=0.3)


def plot_sweep(frame: pandas.DataFrame, keys: list[str], out: Path, x: str | None = None) -> list[Path]:
    """Write normalized_time and absolute_time as PNG and SVG into `out`; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    frame = frame[frame["error"].fillna("") == ""]
    if frame.empty:
        raise ConfigError("the sweep has no finished points to plot", field="DIR")
    x = choose_x(frame, keys, x)
    fields = group_fields(frame, keys, x)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    orders = set(frame["order"])
    if {"sequential", "interleaved"} <= orders:
        wide = paired_orders(frame, keys)
        figure, axes = plt.subplots(figsize=(7, 4.5))
        for _, group in wide.groupby(fields, sort=True) if fields else [("all", wide)]:
            group = group.sort_values(x)
            axes.plot(group[x], group["ratio"], marker="o", label=_label(group.iloc[0], fields))
        axes.axhline(1.0, color="grey", linewidth=1, linestyle=":")
        axes.set_ylabel("normalized execution time (interleaved / sequential)")
        axes.set_title("Interleaved vs sequential backward pass")
        _style_x(axes, wide[x], x)
        axes.legend(fontsize="small")
        paths += _save(figure, out / "normalized_time")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups = list(frame.groupby(fields, sort=True)) if fields else [("all", frame)]
    for number, (_, group) in enumerate(groups):
        for order, style in (("sequential", "-"), ("interleaved", "--")):
            lines = group[group["order"] == order].sort_values(x)
            if not lines.empty:
                axes.plot(
                    lines[x],
                    lines["seconds"] * 1e3,
                    style,
                    marker="o",
                    color=colours[number % len(colours)],
                    label=f"{_label(lines.iloc[0], fields)} ({order})",
                )
    axes.set_ylabel("execution time (ms)")
    axes.set_yscale("log")
    axes.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axes.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_title("Backward-pass execution time")
    _style_x(axes, frame[x], x)
    axes.legend(fontsize="small")
    paths += _save(figure, out / "absolute_time")
    return paths


def _save(figure: object, stem: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    figure.tight_layout()  # type: ignore[attr-defined]
    for path in paths:
        figure.savefig(path, dpi=150)  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    return paths
