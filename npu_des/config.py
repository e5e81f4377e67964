"""Hardware presets and run options: load YAML, validate with pydantic, derive per-cycle quantities.

Every user-facing number passes through here once, so the rest of the simulator can trust
its inputs; a bad value becomes one ConfigError naming the file, the field and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from npu_des.errors import ConfigError
from npu_des.files import check_regular_file, read_text
from npu_des.kinds import GRADIENT_OPS, Access, CoreMapping, Order, Scheme

PRESET_DIR = Path(__file__).parent / "presets"
Dataflow = Literal["os", "ws", "is"]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when it first validates, so importing the configuration
    # does not build all fifteen (a run validates two at the top, HardwareConfig and RunOptions)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

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


def _at_least(minimum: float, unit: str) -> Any:
    """An after-validator: positive but tiny values (subnormal floats such as 1e-310) would overflow the
    cycle arithmetic into inf or give runs of 10^300 cycles, so a physical minimum is enforced."""

    def check(value: float) -> float:
        if value < minimum:
            raise ValueError(f"must be at least {minimum:g} {unit}; smaller values make simulated times "
                             "overflow")
        return value

    return check


class DmaConfig(_Strict):
    """A core's DMA engine: how many transfers it keeps in flight at once."""

    outstanding: int = Field(default=4, ge=1, le=256)


class VectorConfig(_Strict):
    """A core's vector unit for non-GEMM backward ops (BN, activation, softmax): lanes and per-tile
    startup."""

    elements_per_cycle: float = Field(default=32, gt=0, le=1e6)
    startup_cycles: int = Field(default=16, ge=0, le=1_000_000)

    _minimum = field_validator("elements_per_cycle")(_at_least(1e-6, "elements per cycle"))


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

    _minimum = field_validator("capacity_kb")(_at_least(1 / 1024, "KB (one byte)"))

    @property
    def capacity_bytes(self) -> int:
        return int(self.capacity_kb * 1024)


class DramConfig(_Strict):
    """One DRAM channel shared fairly by every DMA engine."""

    bandwidth_gbps: float = Field(gt=0, le=1e9)
    latency_cycles: float = Field(default=100, ge=0, le=1e6)

    _minimum = field_validator("bandwidth_gbps")(_at_least(1e-6, "GB/s"))


class EnergyConfig(_Strict):
    """Energy per access (pJ) and leakage power (mW), for the energy model (npu_des/analysis/energy).

    The simulation never reads these; they price what it counted. One MAC value per element size:
    `bytes_per_element` 1 uses `mac_int8_pj`, 2 `mac_fp16_pj`, 4 `mac_fp32_pj` (the others may be left
    out). Presets cite their sources in YAML comments; `technology_nm` states the node they are for.
    """

    technology_nm: float = Field(gt=0, le=1000)
    mac_int8_pj: float | None = Field(default=None, ge=0, le=1e6)
    mac_fp16_pj: float | None = Field(default=None, ge=0, le=1e6)
    mac_fp32_pj: float | None = Field(default=None, ge=0, le=1e6)
    spm_read_pj_per_byte: float = Field(ge=0, le=1e6)
    spm_write_pj_per_byte: float = Field(ge=0, le=1e6)
    dram_pj_per_byte: float = Field(ge=0, le=1e6)
    vector_pj_per_element: float = Field(ge=0, le=1e6)
    leakage_mw: float = Field(ge=0, le=1e9)


MAC_ENERGY_FIELDS = {1: "mac_int8_pj", 2: "mac_fp16_pj", 4: "mac_fp32_pj"}  # bytes_per_element -> field


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
    """One NPU. `default_batch` is the batch a run uses when neither `--batch` nor `run.batch` is given
    (MICRO'23 ties the batch to the NPU: 4 on its small one, 8 per core on its large one); None means 1."""

    name: str = "custom"
    clock_ghz: float = Field(gt=0, le=100)
    bytes_per_element: Literal[1, 2, 4] = 2
    default_batch: int | None = Field(default=None, ge=1, le=4096)
    cores: CoreConfig
    spm: SpmConfig
    dram: DramConfig
    energy: EnergyConfig | None = None  # optional: without it a run reports no energy

    @property
    def mac_energy_pj(self) -> float | None:
        """Energy of one MAC at this element size, or None when no energy section or no value for it."""
        if self.energy is None:
            return None
        value: float | None = getattr(self.energy, MAC_ENERGY_FIELDS[self.bytes_per_element])
        return value

    scalesim: ScaleSimMemoryConfig | None = None  # SCALE-Sim's SRAMs and ports (a .cfg import)

    _minimum = field_validator("clock_ghz")(_at_least(1e-6, "GHz (1 kHz)"))

    @property
    def dram_bytes_per_cycle(self) -> float:
        """GB/s divided by Gcycles/s is bytes per cycle."""
        return self.dram.bandwidth_gbps / self.clock_ghz


class TileOverride(_Strict):
    """Force tile sizes (elements along M, N, K) instead of letting the tiler choose."""

    m: int = Field(ge=1)
    n: int = Field(ge=1)
    k: int = Field(ge=1)


class LayerChoice(_Strict):
    """One layer's choices, overriding the run-wide ones: what `auto`, `predict` and `rearranged-best`
    resolve to (the driver fills them in, so a run replays from its summary), or set by hand."""

    access: Access | None = None
    partition: Scheme | None = None
    partitions: int | None = Field(default=None, ge=1, le=64)
    core_mapping: CoreMapping | None = None
    baseline: Literal["fixed", "tuned"] | None = None  # the sequential baseline's tiles for this layer


PARTITION_VALUES = (*(scheme.value for scheme in Scheme), "auto", "predict")


class RunOptions(_Strict):
    """How to run a workload on a hardware preset (everything that is not the hardware).

    `pass` (attribute `pass_`, a Python keyword): backward (training gradients, the default),
    forward (inference: one Y = X . W op per layer; `order` then does not apply), or training (the
    forward pass, then the backward pass in `order`: npu_des/sim/training.py).
    `batch`: unset, the hardware's `default_batch` applies (`with_preset_batch`).
    Backward schedules (docs/orders.md): `order`, `baseline` (sequential: fixed or tuned tiles and
    loops), `partition` / `partitions` (MICRO'23 data partitioning into P parts), `core_mapping` (how a
    partition's tiles are dealt to its cores), `dependencies` (op or tile), `dw_dy` (an oracle), and
    `layer_choices` (per-layer overrides; what `auto`, `predict` and `rearranged-best` resolve to).
    `memory_model`: npu-des (tiles through one SPM and one DRAM channel, the default) or scalesim
    (SCALE-Sim 3.0.0's operand-matrix traffic and stalls per GEMM op, docs/scalesim.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    pass_: Literal["backward", "forward", "training"] = Field(default="backward", alias="pass")
    order: Order = Order.INTERLEAVED
    sequential_first: Literal["dX", "dW"] = "dX"
    loop_order: str = "mnk"  # the `fused` order's tile loop nest
    baseline: Literal["fixed", "tuned"] = "fixed"  # sequential: traditional loops and default tiles, or tuned
    partition: Literal["none", "weight-sharing", "dY-sharing", "ifmap-sharing", "auto", "predict"] = "none"
    partitions: int | None = Field(default=None, ge=1, le=64)  # P; default: cores, 2 on one core
    core_mapping: Literal["output", "m", "n", "op", "auto"] = "output"
    dependencies: Literal["op", "tile"] = "op"
    dw_dy: Literal["dram", "free"] = "dram"  # "free": the dW op's dY arrives without DRAM (an oracle)
    layer_choices: dict[str, LayerChoice] = Field(default_factory=dict)
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

    @field_validator("partition", mode="before")
    @classmethod
    def _core_dealing_is_not_partitioning(cls, value: object) -> object:
        """The old core-dealing values of run.partition moved to run.core_mapping: say so."""
        if isinstance(value, str) and value in tuple(CoreMapping):
            raise ValueError(
                f"'{value}' deals tiles to cores: use run.core_mapping (--core-mapping); data partitioning "
                f"schemes are {', '.join(PARTITION_VALUES)}"
            )
        return value

    @field_validator("loop_order")
    @classmethod
    def _loop_order_is_permutation(cls, value: str) -> str:
        if value != "auto" and sorted(value) != ["k", "m", "n"]:
            raise ValueError("must be 'auto' or a permutation of 'mnk' (mnk, mkn, nmk, nkm, kmn, knm)")
        return value


ORDERS = ("sequential", "interleaved")  # the default pair of `--order both`
# Names that set several fields: `interleaved-auto` is the fused loop nest with the per-layer loop order of
# least estimated bytes; `sequential-tuned` the tuned baseline; `partitioned` MICRO'23's last step (Fig. 12
# "+DataPartitioning": rearranged with each layer's partitioning scheme chosen by simulation).
ORDER_ALIASES: dict[str, dict[str, str]] = {
    "interleaved-auto": {"order": Order.FUSED, "loop_order": "auto"},
    "sequential-tuned": {"order": Order.SEQUENTIAL, "baseline": "tuned"},
    "partitioned": {"order": Order.REARRANGED, "partition": "auto"},
}

ORDER_NAMES: tuple[str, ...] = (*(order.value for order in Order), *ORDER_ALIASES)


def order_fields(name: str) -> dict[str, str]:
    """RunOptions fields of an order name (an alias sets several); unknown names are left to validation."""
    return dict(ORDER_ALIASES.get(name, {"order": name}))


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
            sorted(field.alias or name for name, field in parent.model_fields.items())
            if isinstance(parent, type) and issubclass(parent, BaseModel)
            else []
        )
        close = difflib.get_close_matches(str(first["loc"][-1]), names, n=1)
        message = "unknown key" + (f"; did you mean '{close[0]}'?" if close else "")
        allowed = ", ".join(names) or None
    elif first["type"] == "missing":
        message = "missing required field"
    elif "input" in first and not isinstance(first["input"], dict):
        message = f"{message} (got {describe(first['input'])})"
    return ConfigError(message, source=source, field=loc, allowed=allowed)


def describe(value: Any) -> str:
    """A user's value, short and on one line; integers of thousands of digits (which `repr` refuses to
    print beyond 4300) are described by their length."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str) and len(value) > 80:
        return f"{_one_line(repr(value))} ({len(value)} characters)"
    return _one_line(repr(value))


def _one_line(text: str, limit: int = 80) -> str:
    """User text echoed in an error stays on one short line: control characters escaped, long text cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error, not 'last one wins'."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                raise _DuplicateKey(key, first, line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(key, first, again)
        self.key, self.first, self.again = key, first, again


def load_yaml(text: str, source: str, field: str | None = None) -> Any:
    """YAML text -> data, with every failure one ConfigError naming `source` (duplicate keys, syntax,
    nesting, integers too long to convert)."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as dup:
        raise ConfigError(f"key {describe(dup.key)} appears twice (lines {dup.first} and {dup.again}); "
                          "YAML would silently keep the last", source=source, field=field) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(f"malformed YAML{where}" + (f": {problem}" if problem else ""), source=source,
                          field=field) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", source=source, field=field) from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        reason = "a number with more than 4300 digits" if "digits" in str(exc) else _one_line(str(exc))
        raise ConfigError(f"unreadable value: {reason}", source=source, field=field,
                          allowed="numbers of at most 4300 digits") from None


_FLOW_MAPPING = re.compile(r"^\{[^{}]*\}$")


def parse_value(text: str, source: str = "--set", field: str | None = None) -> Any:
    """Values on the command line are YAML scalars, so `22`, `2.5`, `ws` and `true` mean what they say.

    `{dX:ws,dW:os}` (no space after the colons) is a YAML mapping of two keys to null; a user means
    {dX: ws, dW: os}, so a flow mapping whose keys all hold a colon and whose values are all null is
    read again with spaces after the colons.
    """
    try:
        value = load_yaml(text, source, field)
    except ConfigError as error:
        if "malformed YAML" in error.message:
            return text  # not YAML: the plain text (validation says whether it is allowed)
        raise
    if (isinstance(value, dict) and value and _FLOW_MAPPING.match(text.strip())
            and all(v is None and isinstance(k, str) and ":" in k for k, v in value.items())):
        return load_yaml(re.sub(r":(?=\S)", ": ", text), source, field)
    return value


def apply_overrides(
    data: dict[str, Any], overrides: list[str] | tuple[str, ...], source: str, prefix: str = ""
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
        node[parts[-1]] = parse_value(raw.strip(), source, _one_line(prefix + key.strip()))
    return data


def _read_yaml(path: Path, source: str) -> dict[str, Any]:
    data = load_yaml(read_text(path, "hardware file", field="--hw"), source)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of hardware fields at top level", source=source)
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
    if exists:
        return check_regular_file(candidate, "hardware file", field="--hw")
    if candidate.suffix in (".yaml", ".yml"):
        raise ConfigError("no such hardware file", source=_one_line(name_or_path, 200), field="--hw")
    path = PRESET_DIR / f"{name_or_path}.yaml"
    if "/" in name_or_path or len(path.name) > 255 or not path.is_file():
        raise ConfigError(
            f"unknown hardware preset '{_one_line(name_or_path)}'",
            field="--hw",
            allowed=", ".join(preset_names()) + ", or a path to a YAML file",
        )
    return path


def load_hardware(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> HardwareConfig:
    """Load a preset or YAML file, apply `--set` overrides, validate.

    Errors name the file the user gave, or for a preset its name (never the installed preset's path);
    an error in a field that a `--set` override wrote names that override.
    """
    path = resolve_preset(name_or_path)
    is_preset = path.parent == PRESET_DIR and name_or_path == path.stem
    source = f"hardware preset '{path.stem}'" if is_preset else str(path)
    data = _read_yaml(path, source)
    data.setdefault("name", path.stem)
    hw_overrides = [o for o in overrides if not o.startswith("run.")]
    data = apply_overrides(data, hw_overrides, source=_override_source(hw_overrides, source))
    try:
        return hardware_from_dict(data, source=source)
    except ConfigError as error:
        culprit = _override_of(error.field, hw_overrides)
        if culprit is None:
            raise
        raise ConfigError(error.message, source=f"--set {_one_line(culprit)} (on {source})",
                          field=error.field, allowed=error.allowed) from None


def _override_source(overrides: list[str], source: str) -> str:
    return f"--set (on {source})" if overrides else source


def _override_of(field: str | None, overrides: list[str]) -> str | None:
    """The `--set key=value` that wrote `field` (or a section above it), if any; the last one wins."""
    if not field:
        return None
    for item in reversed(overrides):
        key = item.partition("=")[0].strip()
        if field == key or field.startswith(key + ".") or key.startswith(field + "."):
            return item
    return None


class PerCoreScaling(_Strict):
    """A preset's `per_core:` section: the core counts it allows, and the fields that scale with them.

    The listed fields hold one core's value in the file and in `--set` (MICRO'23's large NPU: "8MB per
    core", "150GB/s per core", batch 8 per core); the loaded hardware holds that value times
    `cores.count`. A loaded HardwareConfig is concrete: it keeps the totals, not this section.
    """

    counts: tuple[int, ...] = Field(min_length=1)
    scale: tuple[str, ...] = ()

    @field_validator("counts")
    @classmethod
    def _positive_counts(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(count < 1 for count in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct core counts of at least 1")
        return value


def scale_with_cores(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Apply a `per_core:` section (see PerCoreScaling): check `cores.count` against its counts and
    multiply its fields by the count. Data without the section is returned unchanged."""
    if "per_core" not in data:
        return data
    import copy

    data = copy.deepcopy(data)
    try:
        scaling = PerCoreScaling.model_validate(data.pop("per_core"))
    except ValidationError as exc:
        error = _format_validation_error(exc, PerCoreScaling, source)
        raise ConfigError(error.message, source=source, field=f"per_core.{error.field}",
                          allowed=error.allowed) from None
    cores = data.get("cores")
    count = cores.get("count") if isinstance(cores, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        return data  # validation reports the missing or malformed count
    if count not in scaling.counts:
        raise ConfigError(f"{count} cores is not a configuration of this NPU", source=source,
                          field="cores.count", allowed=", ".join(map(str, sorted(scaling.counts))))
    for path in scaling.scale:
        *parents, leaf = path.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        value = node.get(leaf) if isinstance(node, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"'{_one_line(path)}' is not a number of this preset", source=source,
                              field="per_core.scale", allowed="dotted paths of numeric fields")
        node[leaf] = value * count
    return data


def hardware_from_dict(data: dict[str, Any], source: str = "<hardware>") -> HardwareConfig:
    """Validate hardware data (after `--set` overrides): a `per_core:` section is applied first."""
    data = scale_with_cores(data, source)
    try:
        hw = HardwareConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_validation_error(exc, HardwareConfig, source) from None
    if hw.energy is not None and hw.mac_energy_pj is None:  # the one MAC value this element size needs
        raise ConfigError(
            f"missing required field (bytes_per_element {hw.bytes_per_element} prices MACs with it)",
            source=source,
            field=f"energy.{MAC_ENERGY_FIELDS[hw.bytes_per_element]}",
        )
    return hw


def with_preset_batch(options: RunOptions, hw: HardwareConfig) -> RunOptions:
    """`options` with the hardware's default batch, unless a batch was given (`--batch`, `run.batch`)."""
    if "batch" in options.model_fields_set or hw.default_batch is None:
        return options
    return options.model_copy(update={"batch": hw.default_batch})


def explicit_batch(options: RunOptions) -> int | None:
    """The batch the user gave, or None when the hardware's default applies."""
    return options.batch if "batch" in options.model_fields_set else None


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
    data = apply_overrides(data, run_overrides, source="--set", prefix="run.")
    try:
        return RunOptions.model_validate(data)
    except ValidationError as exc:
        error = _format_validation_error(exc, RunOptions, "run options")
        culprit = _override_of(error.field, run_overrides)
        if culprit is None:
            raise error from None
        raise ConfigError(error.message, source=f"--set run.{_one_line(culprit)}", field=f"run.{error.field}",
                          allowed=error.allowed) from None
