"""SCALE-Sim .cfg files in, with SCALE-Sim's meaning kept (docs/scalesim.md, ".cfg mapping").

SCALE-Sim 3.0.0 has three SRAMs (ifmap, filter, ofmap), each with its own DRAM port:
- `InterfaceBandwidth: USER`: the ifmap port moves `IfmapSRAMBankBandwidth` words/cycle, the filter
  port `FilterSRAMBankBandwidth`, and only the ofmap port reads `Bandwidth` (its first value);
- `InterfaceBandwidth: CALC`: SCALE-Sim sizes the ports itself and never stalls.
npu-des has one SPM and one shared DRAM channel, so the .cfg maps to: one core with the array as
given, an SPM of the three SRAMs together, and a channel of the three ports' sum (USER; each port's
own limit is approximated by the shared sum) or one that never limits (CALC). `hardware.scalesim`
keeps the SRAMs and ports exactly, for `run.memory_model: scalesim`. Each approximation and every key
that has no effect here comes back as a note for the run.

Nothing SCALE-Sim reads is refused: keys are case-insensitive and found in any section, a dataflow
other than os/ws/is runs as OS (SCALE-Sim warns and does the same), SCALE-Sim v2 files without the
[layout] section use `Bandwidth` for every port (as v2 does). Refused, in one line: what SCALE-Sim
itself crashes on (a missing array or SRAM size, a non-integer, an InterfaceBandwidth other than
USER or CALC).
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from npu_des.config import hardware_from_dict
from npu_des.errors import ConfigError, echoed
from npu_des.files import read_text

WORD_BYTES = 1  # SCALE-Sim counts words and hard-codes 1-byte words
CLOCK_GHZ = 1.0  # SCALE-Sim counts cycles; at 1 GHz, words/cycle x 1 B = GB/s
CALC_GBPS = 1e6  # CALC never stalls: a channel no run can saturate
# keys that only place operands in SCALE-Sim's address map, or tune its trace output
NO_EFFECT = {"ifmapoffset", "filteroffset", "ofmapoffset", "readrequestbuffer", "writerequestbuffer",
             "run_name", "memorybanks", "onchipmemorybanks", "onchipmemorybankports", "topologycsvloc",
             "ifmapsrambanknum", "filtersrambanknum", "ifmapsrambankport", "filtersrambankport",
             "sparserep", "optimizedmapping", "blocksize", "randomnumbergeneratorseed"}
MAX_WORDS_PER_CYCLE = 100_000_000  # three ports of this stay under the channel's 1e9 GB/s limit
MAX_SRAM_KB = 1024 * 1024 // 3  # the three SRAMs together form an SPM of at most 1 GB
RANGES = {"arrayheight": (1, 4096, "PE rows"), "arraywidth": (1, 4096, "PE columns"),
          **dict.fromkeys(("ifmapsramszkb", "filtersramszkb", "ofmapsramszkb"), (1, MAX_SRAM_KB, "KB"))}
MAPPED = {"arrayheight", "arraywidth", "ifmapsramszkb", "filtersramszkb", "ofmapsramszkb", "dataflow",
          "bandwidth", "interfacebandwidth", "ifmapsrambankbandwidth", "filtersrambankbandwidth"}


class _Keys:
    """A .cfg's keys, case-insensitive and section-blind, remembering which were read."""

    def __init__(self, parser: configparser.ConfigParser, path: Path) -> None:
        self.path = path
        self.values: dict[str, tuple[str, str]] = {}  # lower key -> (section.Key, value)
        for section in parser.sections():
            for key in parser.options(section):
                self.values.setdefault(key.lower(), (f"{section}.{key}", parser.get(section, key).strip()))

    def text(self, key: str, default: str | None = None) -> str:
        if key.lower() in self.values:
            return self.values[key.lower()][1]
        if default is None:
            raise ConfigError("missing required key (SCALE-Sim needs it too)", source=str(self.path),
                              field=f"architecture_presets.{key}")
        return default

    def integer(self, key: str, default: int | None = None) -> int:
        """An integer key within the range npu-des models, so a bad value names this key, not the
        hardware field it becomes."""
        text = self.text(key, None if default is None else str(default))
        field = self.values.get(key.lower(), (f"architecture_presets.{key}", ""))[0]
        return _in_range(_int(text, self.path, field), key, self.path, field)

    def has(self, key: str) -> bool:
        return key.lower() in self.values

    def name(self, key: str) -> str:
        return self.values[key.lower()][0]


def _int(text: str, path: Path, field: str) -> int:
    try:
        return int(text)
    except ValueError:  # also an integer of more than 4300 digits: echoed shortened
        hint = "; an indented line continues the value above it" if "\n" in text else ""
        raise ConfigError(f"expected an integer, as SCALE-Sim's int() needs (got '{echoed(text)}'){hint}",
                          source=str(path), field=field) from None


def _in_range(value: int, key: str, path: Path, field: str) -> int:
    low, high, unit = RANGES.get(key.lower(), (1, MAX_WORDS_PER_CYCLE, "words/cycle"))
    if not low <= value <= high:
        raise ConfigError(f"{echoed(f'{value:,}')} {unit} is outside what npu-des models", source=str(path),
                          field=field, allowed=f"{low}..{high:,}")
    return value


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)  # a '%' is text, not a substitution to crash on
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep SCALE-Sim's spelling for notes
    text = read_text(path, "SCALE-Sim config", field="--scalesim-cfg")  # regular file, size limit, BOMs
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        first = exc.message.splitlines()[0]
        if type(exc) is configparser.ParsingError and exc.errors:  # which line, not just "errors"
            line, text = exc.errors[0]
            shown = str(text).strip("'\"").replace("\\n", "").strip()
            first = f"line {line} '{echoed(shown)}' is neither a [section], key = value nor a comment"
        raise ConfigError(f"malformed SCALE-Sim config: {first}", source=str(path)) from None
    return parser


def load_scalesim_config(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """A SCALE-Sim .cfg as npu-des hardware fields (validated) and the notes a run should carry: what
    was approximated and which keys have no effect here."""
    path = Path(path)
    keys = _Keys(_read(path), path)
    notes: list[str] = []
    rows, cols = keys.integer("ArrayHeight"), keys.integer("ArrayWidth")
    srams = [keys.integer(key) for key in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")]
    dataflow = keys.text("Dataflow", "os")
    if dataflow not in ("os", "ws", "is"):
        notes.append(f"SCALE-Sim runs Dataflow '{dataflow}' as os (it warns 'Invalid dataflow'); "
                     "so does npu-des")
        dataflow = "os"
    interface = keys.text("InterfaceBandwidth", "USER" if keys.has("Bandwidth") else "CALC")
    if interface not in ("USER", "CALC"):
        raise ConfigError(f"InterfaceBandwidth '{interface}' leaves SCALE-Sim's config invalid",
                          source=str(path), field=keys.name("InterfaceBandwidth"), allowed="USER, CALC")
    if not keys.has("InterfaceBandwidth"):
        notes.append(f"no InterfaceBandwidth: taken as {interface}")
    ports = (0, 0, 0)
    if interface == "USER":
        listed = keys.text("Bandwidth").split(",")  # (a missing Bandwidth is refused here)
        values = [_int(part.strip(), path, keys.name("Bandwidth")) for part in listed]
        ofmap_port = values[0]  # SCALE-Sim int()s every listed value and reads the first
        if keys.has("IfmapSRAMBankBandwidth") and keys.has("FilterSRAMBankBandwidth"):
            ports = (keys.integer("IfmapSRAMBankBandwidth"), keys.integer("FilterSRAMBankBandwidth"),
                     ofmap_port)
        else:
            ports = (ofmap_port, ofmap_port, ofmap_port)
            notes.append("no [layout] bank bandwidths (a SCALE-Sim v2 file): every port moves Bandwidth "
                         f"= {ofmap_port} words/cycle, as v2 does")
        if min(ports) < 1:
            raise ConfigError(f"port bandwidths {ports} words/cycle: SCALE-Sim needs them positive",
                              source=str(path), field=keys.name("Bandwidth"), allowed="integers >= 1")
        _in_range(max(ports), "bandwidth", path, keys.name("Bandwidth"))
        notes.append(f"SCALE-Sim's ifmap/filter/ofmap DRAM ports ({ports[0]}/{ports[1]}/{ports[2]} "
                     f"words/cycle) share one npu-des channel of their sum, {sum(ports)} B/cycle; "
                     "run.memory_model=scalesim keeps them apart")
        gbps = sum(ports) * WORD_BYTES * CLOCK_GHZ
    else:
        notes.append(f"InterfaceBandwidth CALC: SCALE-Sim never stalls; the DRAM channel is {CALC_GBPS:g} "
                     "B/cycle so it never limits either")
        gbps = CALC_GBPS
    notes += _other_keys(keys)
    data: dict[str, Any] = {
        "name": keys.text("run_name", path.stem) or path.stem,
        "clock_ghz": CLOCK_GHZ,
        "bytes_per_element": WORD_BYTES,
        "cores": {"count": 1, "array": {"rows": rows, "cols": cols, "dataflow": dataflow}},
        "spm": {"capacity_kb": sum(srams)},
        "dram": {"bandwidth_gbps": gbps, "latency_cycles": 1},  # SCALE-Sim's read port latency
        "scalesim": {"ifmap_sram_kb": srams[0], "filter_sram_kb": srams[1], "ofmap_sram_kb": srams[2],
                     "interface_bandwidth": interface,
                     **({"ifmap_words_per_cycle": ports[0], "filter_words_per_cycle": ports[1],
                         "ofmap_words_per_cycle": ports[2]} if interface == "USER" else {})},
    }
    hardware_from_dict(data, source=str(path))
    return data, notes


def _other_keys(keys: _Keys) -> list[str]:
    """Notes for the keys with an effect in SCALE-Sim that npu-des does not model."""
    notes = []
    if keys.has("UseRamulatorTrace") and keys.text("UseRamulatorTrace").lower() == "true":
        notes.append("UseRamulatorTrace: Ramulator latency traces are not modelled")
    if keys.has("SparsitySupport") and keys.text("SparsitySupport").lower() == "true":
        notes.append("SparsitySupport: SCALE-Sim's N:M sparse mapping is not modelled (see run.density)")
    custom = [keys.name(key) for key in ("IfmapCustomLayout", "FilterCustomLayout")
              if keys.has(key) and keys.text(key).lower() == "true"]
    if custom:
        notes.append(f"{', '.join(custom)}: SCALE-Sim's bank-conflict layout model is not modelled")
    skipped = {"userramulatortrace", "useramulatortrace", "sparsitysupport", "ifmapcustomlayout",
               "filtercustomlayout"}
    unknown = [keys.name(key) for key in keys.values if key not in MAPPED | NO_EFFECT | skipped]
    if unknown:
        notes.append(f"SCALE-Sim keys not mapped: {', '.join(unknown)}")
    return notes
