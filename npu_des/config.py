"""Hardware presets and run options: load YAML, validate with pydantic, derive per-cycle quantities.

Every user-facing number passes through here once, so the rest of the simulator can trust
its inputs; a bad value becomes one ConfigError naming the file, the field and what is allowed.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from npu_des.errors import ConfigError
from npu_des.kinds import GRADIENT_OPS

PRESET_DIR = Path(__file__).parent / "presets"
Dataflow = Literal["os", "ws", "is"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML reads `true`/`yes` as booleans, which pydantic would quietly take as 1; refuse them."""
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if annotation is not bool and bool not in getattr(annotation, "__args__", ()):
                raise ValueError("must not be a boolean")
        return value


DATAFLOWS = ("os", "ws", "is")


class ArrayConfig(_Strict):
    """One core's systolic array: rows x cols PEs running one dataflow, or one per gradient op.

    `dataflow` is os/ws/is, or a mapping such as {dX: ws, dW: os} (ops left out run os) for a
    configurable array (gradient-interleaved scheduler); switching dataflow between consecutive
    tiles costs `reconfiguration_cycles`. `stationary_reuse` skips reloading a stationary tile the PEs
    still hold; `zero_skipping` lets dW tiles skip zero operand pairs (SWG). Both default off, which
    is SCALE-Sim's model exactly.
    """

    rows: int = Field(ge=1, le=4096)
    cols: int = Field(ge=1, le=4096)
    dataflow: Dataflow | dict[str, Dataflow] = "os"
    reconfiguration_cycles: int = Field(default=0, ge=0, le=1_000_000)
    stationary_reuse: bool = False
    zero_skipping: bool = False

    @field_validator("dataflow", mode="before")
    @classmethod
    def _dataflow_or_mapping(cls, value: Any) -> Any:
        """One message naming both forms, instead of pydantic's per-union-member complaints."""
        if isinstance(value, str):
            if value not in DATAFLOWS:
                raise ValueError(
                    "must be one of os, ws, is, or a mapping of op to dataflow such as {dX: ws, dW: os}"
                )
            return value
        if isinstance(value, dict):
            for op, dataflow in value.items():
                if op not in GRADIENT_OPS:
                    raise ValueError(
                        f"unknown op {_one_line(repr(op))} in the dataflow mapping "
                        f"(allowed ops: {', '.join(GRADIENT_OPS)})"
                    )
                if not isinstance(dataflow, str) or dataflow not in DATAFLOWS:
                    raise ValueError(
                        f"op '{op}': unknown dataflow {_one_line(repr(dataflow))} "
                        f"(allowed: {', '.join(DATAFLOWS)})"
                    )
            return {op.value: value.get(op, "os") for op in GRADIENT_OPS}
        raise ValueError("must be one of os, ws, is, or a mapping of op to dataflow such as {dX: ws, dW: os}")


class DmaConfig(_Strict):
    """A core's DMA engine: how many transfers it keeps in flight at once."""

    outstanding: int = Field(default=4, ge=1, le=256)


class VectorConfig(_Strict):
    """A core's vector unit for non-GEMM backward ops (BN, activation, softmax): lanes and per-tile
    startup."""

    elements_per_cycle: float = Field(default=32, gt=0, le=1e6)
    startup_cycles: int = Field(default=16, ge=0, le=1_000_000)


class CoreConfig(_Strict):
    count: int = Field(ge=1, le=64)
    array: ArrayConfig
    dma: DmaConfig = DmaConfig()
    vector: VectorConfig = VectorConfig()


class SpmConfig(_Strict):
    """The scratchpad shared by all cores. `lru` caches unreferenced tiles; `explicit` keeps only pinned
    ones."""

    capacity_kb: float = Field(gt=0, le=1024 * 1024)
    policy: Literal["lru", "explicit"] = "lru"

    @property
    def capacity_bytes(self) -> int:
        return int(self.capacity_kb * 1024)


class DramConfig(_Strict):
    """One DRAM channel shared fairly by every DMA engine."""

    bandwidth_gbps: float = Field(gt=0, le=1e9)
    latency_cycles: float = Field(default=100, ge=0, le=1e6)


class ScaleSimMemoryConfig(_Strict):
    """SCALE-Sim's memory system, read by `run.memory_model: scalesim` (docs/scalesim.md): three
    double-buffered SRAMs, each with its own DRAM port of `*_words_per_cycle` (USER), or ports sized so
    nothing ever stalls (CALC). A .cfg import fills it from the file; without it the scalesim model
    splits `spm` in three and gives every port the DRAM channel's bandwidth."""

    ifmap_sram_kb: float = Field(gt=0, le=1024 * 1024)
    filter_sram_kb: float = Field(gt=0, le=1024 * 1024)
    ofmap_sram_kb: float = Field(gt=0, le=1024 * 1024)
    interface_bandwidth: Literal["USER", "CALC"] = "USER"
    ifmap_words_per_cycle: int = Field(default=10, ge=1, le=10**9)
    filter_words_per_cycle: int = Field(default=10, ge=1, le=10**9)
    ofmap_words_per_cycle: int = Field(default=10, ge=1, le=10**9)


class HardwareConfig(_Strict):
    name: str = "custom"
    clock_ghz: float = Field(gt=0, le=100)
    bytes_per_element: Literal[1, 2, 4] = 2
    cores: CoreConfig
    spm: SpmConfig
    dram: DramConfig
    scalesim: ScaleSimMemoryConfig | None = None

    @property
    def dram_bytes_per_cycle(self) -> float:
        """GB/s divided by Gcycles/s is bytes per cycle."""
        return self.dram.bandwidth_gbps / self.clock_ghz


class TileOverride(_Strict):
    """Force tile sizes (elements along M, N, K) instead of letting the tiler choose."""

    m: int = Field(ge=1)
    n: int = Field(ge=1)
    k: int = Field(ge=1)


class RunOptions(_Strict):
    """How to run a workload on a hardware preset (everything that is not the hardware).

    `pass` (attribute `pass_`, a Python keyword): backward (training gradients, the default) or
    forward (inference: one Y = X . W op per layer; `order` then does not apply).
    `memory_model`: npu-des (tiles through one SPM and one DRAM channel, the default) or scalesim
    (SCALE-Sim 3.0.0's operand-matrix traffic and stalls per GEMM op, docs/scalesim.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    pass_: Literal["backward", "forward"] = Field(default="backward", alias="pass")
    order: Literal["sequential", "interleaved"] = "interleaved"
    sequential_first: Literal["dX", "dW"] = "dX"
    loop_order: str = "mnk"
    partition: Literal["output", "m", "n", "op", "auto"] = "output"
    tile: TileOverride | None = None
    spm_fraction: float = Field(default=0.5, gt=0, le=1)
    prefetch_depth: int = Field(default=1, ge=0, le=8)
    pins: tuple[str, ...] = ()  # LAYER:KIND; forward: LAYER:Y keeps a feature map on chip to its consumer
    pin_plan: Literal["none", "greedy", "optimal"] = "none"
    fuse: tuple[str, ...] = ()  # forward pass: fused groups 'a+b+c', or 'auto' (npu_des/schedule/fusion.py)
    batch: int = Field(default=1, ge=1, le=4096)
    max_tasks: int = Field(default=2_000_000, ge=1)
    vector_ops: bool = False  # simulate non-GEMM backward (BN/activation/softmax) on each core's vector unit
    density: float = 1.0
    density_file: str | None = None
    compression: Literal["none", "bitmap", "csr"] = "none"
    memory_model: Literal["npu-des", "scalesim"] = "npu-des"

    @field_validator("fuse", "pins", mode="before")
    @classmethod
    def _one_item_is_a_list_of_one(cls, value: object) -> object:
        """`--set run.fuse=auto` and `--set run.pins=conv1:dY` mean a list of one item."""
        return (value,) if isinstance(value, str) else value

    @field_validator("density")
    @classmethod
    def _density_is_fraction(cls, value: float) -> float:
        """Fraction of nonzero elements of X and dY (SWG); 0 would mean no work at all, so it is refused."""
        if not 0 < value <= 1:  # also refuses NaN
            raise ValueError("must be a density in (0, 1]: the fraction of nonzero elements of X and dY")
        return value

    @field_validator("loop_order")
    @classmethod
    def _loop_order_is_permutation(cls, value: str) -> str:
        if value != "auto" and sorted(value) != ["k", "m", "n"]:
            raise ValueError("must be 'auto' or a permutation of 'mnk' (mnk, mkn, nmk, nkm, kmn, knm)")
        return value


ORDERS = ("sequential", "interleaved")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _format_validation_error(error: ValidationError, model: type[BaseModel], source: str) -> ConfigError:
    """Turn pydantic's first complaint into one line, with a suggestion for misspelt keys."""
    first = error.errors()[0]
    loc = _one_line(".".join(str(part) for part in first["loc"]))
    message = first["msg"].removeprefix("Value error, ")
    allowed = None
    if first["type"] == "extra_forbidden":
        parent: Any = model
        for part in first["loc"][:-1]:
            is_model = isinstance(parent, type) and issubclass(parent, BaseModel)
            field = parent.model_fields.get(str(part)) if is_model else None
            parent = field.annotation if field is not None else None
        names = (
            sorted(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        )
        close = difflib.get_close_matches(str(first["loc"][-1]), names, n=1)
        message = "unknown key" + (f"; did you mean '{close[0]}'?" if close else "")
        allowed = ", ".join(names) or None
    elif first["type"] == "missing":
        message = "missing required field"
    elif "input" in first and not isinstance(first["input"], dict):
        message = f"{message} (got {_one_line(repr(first['input']))})"
    return ConfigError(message, source=source, field=loc, allowed=allowed)


def _one_line(text: str, limit: int = 80) -> str:
    """User text echoed in an error stays on one short line: control characters escaped, long text cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_value(text: str) -> Any:
    """Values on the command line are YAML scalars, so `22`, `2.5`, `ws` and `true` mean what they say."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(
    data: dict[str, Any], overrides: list[str] | tuple[str, ...], source: str
) -> dict[str, Any]:
    """Apply `dotted.key=value` overrides to a nested dict (a copy); unknown paths are caught by
    validation."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"override '{_one_line(item)}' is not of the form key=value", source=source, field="--set"
            )
        key, _, raw = item.partition("=")
        node = data
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override '{_one_line(item)}' has an empty key", source=source, field="--set")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"'{_one_line(part)}' is a value, not a section", source=source, field=_one_line(key)
                )
            node = child
        node[parts[-1]] = parse_value(raw.strip())
    return data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"malformed YAML{where}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a UTF-8 text file (byte {exc.start})", source=str(path)) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file ({exc.strerror})", source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of hardware fields at top level", source=str(path))
    return data


def resolve_preset(name_or_path: str) -> Path:
    """A preset is a name from the presets folder or a path to a YAML file."""
    candidate = Path(name_or_path)
    try:
        exists = candidate.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, or a NUL byte
        raise ConfigError(
            f"not a usable file name ({getattr(exc, 'strerror', None) or exc})",
            source=_one_line(name_or_path),
            field="--hw",
        ) from None
    if candidate.suffix in (".yaml", ".yml") or exists:
        if not candidate.is_file():
            raise ConfigError("no such hardware file", source=_one_line(name_or_path, 200), field="--hw")
        return candidate
    path = PRESET_DIR / f"{name_or_path}.yaml"
    if "/" in name_or_path or len(path.name) > 255 or not path.is_file():
        raise ConfigError(
            f"unknown hardware preset '{_one_line(name_or_path)}'",
            field="--hw",
            allowed=", ".join(preset_names()) + ", or a path to a YAML file",
        )
    return path


def load_hardware(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> HardwareConfig:
    """Load a preset or YAML file, apply `--set` overrides, validate."""
    path = resolve_preset(name_or_path)
    data = _read_yaml(path)
    data.setdefault("name", path.stem)
    hw_overrides = [o for o in overrides if not o.startswith("run.")]
    data = apply_overrides(data, hw_overrides, source=str(path))
    return hardware_from_dict(data, source=str(path))


def hardware_from_dict(data: dict[str, Any], source: str = "<hardware>") -> HardwareConfig:
    try:
        return HardwareConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_validation_error(exc, HardwareConfig, source) from None


def run_options(overrides: list[str] | tuple[str, ...] = (), **fields: Any) -> RunOptions:
    """Build RunOptions from keyword fields plus `run.key=value` overrides."""
    data: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    for (
        name,
        field,
    ) in RunOptions.model_fields.items():  # one spelling per field, so `--set run.pass=` overrides
        if field.alias and name in data:
            data[field.alias] = data.pop(name)
    run_overrides = [o[len("run.") :] for o in overrides if o.startswith("run.")]
    data = apply_overrides(data, run_overrides, source="--set")
    try:
        return RunOptions.model_validate(data)
    except ValidationError as exc:
        raise _format_validation_error(exc, RunOptions, "run options") from None
