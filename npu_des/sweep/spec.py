"""What a sweep is: a cartesian product of configurations, as plain data points with stable ids.

A point is plain data (model, hardware, order, variant, `key=value` overrides), so it pickles
cheaply to any worker, and its canonical id is what `--resume` matches on.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from npu_des.config import ORDER_NAMES, ORDERS, load_hardware, order_fields, run_options
from npu_des.errors import ConfigError
from npu_des.models import build_model
from npu_des.sweep.variants import VARIANTS

RESERVED_KEYS = {"run.order": "--order"}
MAX_POINTS = 10_000  # --max-points: a product past this is a typo or hours of simulation, not a sweep


@dataclass(frozen=True)
class Axis:
    """One swept configuration key and its values, kept as the text the user wrote."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Point:
    """One configuration of the sweep: everything a worker needs to simulate it."""

    model: str
    hardware: str
    order: str
    settings: tuple[tuple[str, str], ...] = ()
    variant: str = "baseline"

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.settings]

    @property
    def id(self) -> str:
        """Canonical identity (JSON text), stable across runs: what `--resume` matches on."""
        return json.dumps(
            [self.model, self.hardware, self.variant, self.order, [list(s) for s in self.settings]]
        )


@dataclass(frozen=True)
class SweepSpec:
    """The cartesian product models x hardware x axes x variants x orders."""

    models: tuple[str, ...]
    hardware: tuple[str, ...]
    orders: tuple[str, ...] = ORDERS
    axes: tuple[Axis, ...] = ()
    variants: tuple[str, ...] = ("baseline",)

    @property
    def keys(self) -> list[str]:
        return [axis.key for axis in self.axes]

    @property
    def factors(self) -> list[tuple[str, int]]:
        """The sizes whose product is the number of points, named for a message."""
        return [("model(s)", len(self.models)), ("hardware", len(self.hardware)),
                *((f"{axis.key} values", len(axis.values)) for axis in self.axes),
                ("variant(s)", len(self.variants)), ("order(s)", len(self.orders))]

    @property
    def size(self) -> int:
        """How many points, without building them (a product of millions must be refused, not listed)."""
        return math.prod(count for _, count in self.factors)

    def points(self) -> list[Point]:
        """Every point, in canonical order (later fields vary fastest, so the two orders sit side by side)."""
        value_lists = [[(axis.key, value) for value in axis.values] for axis in self.axes]
        return [
            Point(model, hw, order, tuple(settings), variant)
            for model, hw, settings, variant, order in itertools.product(
                self.models, self.hardware, itertools.product(*value_lists), self.variants, self.orders
            )
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "hardware": list(self.hardware),
            "orders": list(self.orders),
            "axes": [{"key": a.key, "values": list(a.values)} for a in self.axes],
            "variants": list(self.variants),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepSpec:
        return cls(
            tuple(data["models"]),
            tuple(data["hardware"]),
            tuple(data["orders"]),
            tuple(Axis(a["key"], tuple(a["values"])) for a in data["axes"]),
            tuple(data.get("variants", ("baseline",))),
        )


def split_list(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes, so `run.pins=[a:dY,b:dY]` stays one value."""
    items: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    items.append("".join(current).strip())
    return items


def parse_axis(text: str) -> Axis:
    """`key=v1,v2,...` -> Axis; an empty list or an empty item is a user error."""
    if "=" not in text:
        raise ConfigError(f"'{text}' is not of the form key=value[,value...]", field="--set")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"'{text}' has no key", field="--set")
    if key in RESERVED_KEYS:
        raise ConfigError(f"sweep '{key}' with {RESERVED_KEYS[key]}", field="--set")
    values = split_list(raw) if raw.strip() else []
    if not values or any(not value for value in values):
        raise ConfigError(f"empty value in '{text}'; give one or more comma-separated values", field=key)
    if len(set(values)) != len(values):
        raise ConfigError(f"repeated value in '{text}'", field=key)
    return Axis(key, tuple(values))


def build_spec(
    models: Sequence[str],
    hardware: Sequence[str],
    orders: Sequence[str],
    sets: Sequence[str] = (),
    variants: Sequence[str] = ("baseline",),
    max_points: int = MAX_POINTS,
) -> SweepSpec:
    """Parse and check the parts of a sweep; model names become canonical zoo names. More than
    `max_points` points is refused before any is built or checked."""
    axes = tuple(parse_axis(text) for text in sets)
    keys = [axis.key for axis in axes]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"key '{key}' given twice; list all its values in one --set", field="--set")
    for order in orders:
        if order not in ORDER_NAMES:
            raise ConfigError(f"unknown order '{order}'", field="--order", allowed=", ".join(ORDER_NAMES))
    for variant in variants:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant '{variant}'", field="--variant", allowed=", ".join(VARIANTS))
    for name, values in (
        ("--model", models),
        ("--hw", hardware),
        ("--order", orders),
        ("--variant", variants),
    ):
        if not values or any(not value for value in values) or len(set(values)) != len(values):
            raise ConfigError("needs one or more distinct comma-separated values", field=name)
    for path in hardware:
        if path.lower().endswith(".cfg"):
            raise ConfigError("a SCALE-Sim .cfg; sweeps take hardware presets or YAML files (convert it once "
                              "with `npu-des run --scalesim-cfg`, whose notes list the fields)", source=path,
                              field="--hw", allowed="preset names or .yaml files")
    canonical = tuple(build_model(model).name for model in models)
    spec = SweepSpec(canonical, tuple(hardware), tuple(orders), axes, tuple(variants))
    if spec.size > max_points:
        product = " x ".join(f"{count:,} {name}" for name, count in spec.factors)
        raise ConfigError(f"{spec.size:,} points ({product}), more than --max-points={max_points:,}: each "
                          "point is one whole simulation (0.1 s for tiny_cnn, seconds to minutes for larger "
                          "models), so this would run for hours or never finish; sweep fewer values or raise "
                          "--max-points", field="--set", allowed=f"up to --max-points={max_points:,} points")
    return spec


def validate(points: Sequence[Point]) -> None:
    """Check every point's hardware and run options before anything runs: one bad value, one line."""
    checked: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for point in points:
        if (point.hardware, point.settings) in checked:
            continue
        load_hardware(point.hardware, point.overrides)
        run_options(point.overrides, **order_fields(point.order))
        checked.add((point.hardware, point.settings))
