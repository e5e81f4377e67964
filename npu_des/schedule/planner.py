"""Pin planner (CGO'23 "pin or fuse"): which tensors to keep in the SPM, and which forward links to fuse.

A pin holds a tensor in the SPM over an interval of layer positions (its lifetime). Pins whose
intervals do not overlap never coexist: the simulator makes a pin's first user wait until every
pin that ended at an earlier position is released (`disjoint_pin_deps`). So capacity is checked
per position: the bytes of the pins alive there must fit the SPM left over by the in-flight
working sets (`pin budget`). Backward dY pins live over [q, q+1] (layer q's ops may still run
while the next layer in backward order starts); a forward feature map pinned from producer q to
its consumer q+1 lives over [q, q+1] too. Both planners choose a set of pins maximising the DRAM
bytes saved under that rule: `optimal_pins` by an exact DP over positions (the state is the set of
chosen pins still alive, at most two here), `greedy_pins` by saved bytes per pinned byte. The
forward planner (`plan_forward_links`) also decides fusion per link, by the same DP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from npu_des.errors import ConfigError


@dataclass(frozen=True, slots=True)
class PinCandidate:
    """A tensor that may be pinned: its SPM bytes, the DRAM bytes pinning saves, its lifetime [start, end]."""

    tensor: str     # "LAYER:KIND"
    nbytes: int
    saving: int
    start: int
    end: int


def alive_peak(pins: Sequence[PinCandidate]) -> tuple[int, tuple[str, ...]]:
    """Most pinned bytes alive at one position, and the tensors alive there."""
    best: tuple[int, tuple[str, ...]] = (0, ())
    for position in sorted({pin.start for pin in pins}):
        alive = [pin for pin in pins if pin.start <= position <= pin.end]
        total = sum(pin.nbytes for pin in alive)
        if total > best[0]:
            best = (total, tuple(pin.tensor for pin in alive))
    return best


def check_pins_fit(pins: Sequence[PinCandidate], budget_bytes: int, field: str = "run.pins") -> None:
    """One ConfigError naming the tensors alive together and the bytes over, if any position overflows."""
    peak, names = alive_peak(pins)
    if peak > budget_bytes:
        raise ConfigError(
            f"pins {', '.join(names)} hold {peak / 1024:.1f} KB at the same time, "
            f"{(peak - budget_bytes) / 1024:.1f} KB over the {budget_bytes / 1024:.1f} KB the SPM "
            "has beside the in-flight tiles",
            field=field,
        )


def greedy_pins(candidates: Sequence[PinCandidate], budget_bytes: int) -> tuple[PinCandidate, ...]:
    """Most bytes saved per byte pinned first, each kept if every position still fits."""
    chosen: list[PinCandidate] = []
    ranked = sorted(
        (c for c in candidates if c.saving > 0),
        key=lambda c: (-c.saving / max(1, c.nbytes), -c.saving, c.tensor),
    )
    for candidate in ranked:
        if alive_peak([*chosen, candidate])[0] <= budget_bytes:
            chosen.append(candidate)
    return tuple(sorted(chosen, key=lambda c: (c.start, c.tensor)))


def optimal_pins(candidates: Sequence[PinCandidate], budget_bytes: int) -> tuple[PinCandidate, ...]:
    """The pin set saving the most DRAM bytes with every position within budget (exact DP).

    Candidates are taken by start position; a chosen pin is alive at every later start up to its
    end, so the max alive bytes over its interval among earlier choices is at its own start, and
    later ones are checked when they are taken. The state is the set of chosen pins still alive;
    states with the same set keep the best saving (ties: fewer pinned bytes, then names).
    """
    ordered = sorted(candidates, key=lambda c: (c.start, c.end, c.tensor))
    states: dict[tuple[int, ...], tuple[int, int, tuple[int, ...]]] = {(): (0, 0, ())}
    for index, candidate in enumerate(ordered):
        following: dict[tuple[int, ...], tuple[int, int, tuple[int, ...]]] = {}
        for alive, (saving, pinned, chosen) in states.items():
            alive = tuple(j for j in alive if ordered[j].end >= candidate.start)
            options = [(alive, (saving, pinned, chosen))]
            if (
                candidate.saving > 0
                and candidate.nbytes + sum(ordered[j].nbytes for j in alive) <= budget_bytes
            ):
                options.append(
                    (
                        (*alive, index),
                        (saving + candidate.saving, pinned + candidate.nbytes, (*chosen, index)),
                    )
                )
            for key, value in options:
                if key not in following or _better(value, following[key]):
                    following[key] = value
        states = following
    best = max(states.values(), key=lambda v: (v[0], -v[1], [-i for i in v[2]]))
    return tuple(ordered[i] for i in best[2])


def _better(a: tuple[int, int, tuple[int, ...]], b: tuple[int, int, tuple[int, ...]]) -> bool:
    return (a[0], -a[1], [-i for i in a[2]]) > (b[0], -b[1], [-i for i in b[2]])


def plan_pins(method: str, candidates: Sequence[PinCandidate], budget_bytes: int) -> tuple[PinCandidate, ...]:
    """`optimal` or `greedy` pins (`none`: no pins)."""
    if method == "none":
        return ()
    return (optimal_pins if method == "optimal" else greedy_pins)(candidates, budget_bytes)


# --- forward links: pin, fuse or spill ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForwardLink:
    """Producer at position q feeding only its consumer at q+1: the feature map may be pinned or fused.

    `mode` says how the consumer's X tiles map onto the producer's Y tiles when pinned: `rows` (a
    pointwise consumer: same M tiles) or `whole` (one M tile each); `pinnable` says whether the
    full-channel tiles that mapping needs fit (for `rows`) or fit at M = all rows (`whole`).
    """

    producer: str
    consumer: str
    position: int
    nbytes: int  # the producer's Y, held in the SPM while pinned
    saving: int  # Y written + X read back when spilled
    mode: str
    pinnable: bool
    fusible: bool

    @property
    def tensor(self) -> str:
        return f"{self.producer}:Y"


@dataclass(frozen=True)
class LinkPlan:
    """Per forward link: pinned or in a fused group; every other link is spilled."""

    pinned: tuple[ForwardLink, ...]
    groups: tuple[tuple[str, ...], ...]


def plan_forward_links(
    links: Sequence[ForwardLink],
    budget_bytes: int,
    allow_pin: bool,
    allow_fuse: bool,
    group_cost: Callable[[tuple[str, ...]], int | None],
    whole_fits: Callable[[str], bool],
    max_depth: int = 3,
) -> LinkPlan:
    """Exact DP over links in forward order: pin / fuse / spill each, maximising bytes saved.

    Constraints: pinned bytes alive at a position (two adjacent pins share their middle layer)
    within `budget_bytes`; a fused group is a run of fused links of at most `max_depth` layers whose
    `group_cost` (extra DRAM bytes of its input's halo rows, None if it does not fit) counts against
    what its links save; a pinned link touches no fused layer; adjacent pins share the middle layer's M
    tiling, so a component with a `whole` link needs every layer of it to fit whole (`whole_fits`).
    Ties prefer fewer fused links (fusion recomputes halo rows), then fewer pinned bytes.
    """
    # state: (previous link position, previous choice, fused run, pinned component flags) -> best
    State = tuple[int, str, tuple[str, ...], bool, bool]
    Value = tuple[int, int, int, tuple[tuple[int, str], ...]]  # saved, -fused, -pinned bytes, decisions
    states: dict[State, Value] = {(-2, "spill", (), False, True): (0, 0, 0, ())}
    ordered = sorted(links, key=lambda link: link.position)
    for index, link in enumerate(ordered):
        following: dict[State, Value] = {}
        for (previous_position, previous, run, has_whole, all_whole), value in states.items():
            adjacent = previous_position == link.position - 1
            choice_prev = previous if adjacent else "spill"
            options: list[tuple[str, State, Value]] = [
                ("spill", (link.position, "spill", (), False, True), value)
            ]
            if allow_fuse and link.fusible and choice_prev != "pin":
                group = (*run, link.consumer) if choice_prev == "fuse" else (link.producer, link.consumer)
                cost = group_cost(group) if len(group) <= max_depth else None
                if cost is not None:
                    before = group_cost(run) or 0 if choice_prev == "fuse" else 0
                    options.append(
                        (
                            "fuse",
                            (link.position, "fuse", group, False, True),
                            (value[0] + link.saving - cost + before, value[1] - 1, value[2], value[3]),
                        )
                    )
            if allow_pin and link.pinnable and choice_prev != "fuse":
                joined = choice_prev == "pin"
                alive = link.nbytes + (ordered[index - 1].nbytes if joined else 0)
                whole = (has_whole if joined else False) or link.mode == "whole"
                fits_whole = (all_whole if joined else whole_fits(link.producer)) and whole_fits(
                    link.consumer
                )
                if alive <= budget_bytes and (not whole or fits_whole):
                    options.append(
                        (
                            "pin",
                            (link.position, "pin", (), whole, fits_whole),
                            (value[0] + link.saving, value[1], value[2] - link.nbytes, value[3]),
                        )
                    )
            for choice, state, new in options:
                new = (*new[:3], (*new[3], (index, choice)))
                if state not in following or new[:3] > following[state][:3]:
                    following[state] = new
        states = following
    best = max(states.values(), key=lambda v: v[:3])
    return _link_plan(ordered, dict(best[3]))


def greedy_forward_links(
    links: Sequence[ForwardLink],
    budget_bytes: int,
    groups: Sequence[Sequence[str]],
    whole_fits: Callable[[str], bool],
) -> LinkPlan:
    """Fuse the given groups (e.g. fusion.auto_groups), then pin the other links greedily."""
    fused_layers = {name for group in groups for name in group}
    fused_links = {(a, b) for group in groups for a, b in pairwise(group)}
    chosen: list[ForwardLink] = []
    free = [
        link
        for link in links
        if link.pinnable and link.producer not in fused_layers and link.consumer not in fused_layers
    ]
    for link in sorted(free, key=lambda link: (-link.saving / max(1, link.nbytes), link.position)):
        trial = sorted([*chosen, link], key=lambda item: item.position)
        if alive_peak([_as_pin(item) for item in trial])[0] <= budget_bytes and components_fit(
            trial, whole_fits
        ):
            chosen.append(link)
    decisions = {
        index: "pin"
        if link in chosen
        else "fuse"
        if (link.producer, link.consumer) in fused_links
        else "spill"
        for index, link in enumerate(links)
    }
    return _link_plan(list(links), decisions)


def pin_components(pinned: Sequence[ForwardLink]) -> list[tuple[list[str], bool]]:
    """Chains of adjacent pinned links: (their layers in order, whether any link needs one whole M tile)."""
    components: list[tuple[list[str], bool]] = []
    previous: ForwardLink | None = None
    for link in sorted(pinned, key=lambda item: item.position):
        if previous is not None and previous.position == link.position - 1:
            layers, whole = components[-1]
            components[-1] = ([*layers, link.consumer], whole or link.mode == "whole")
        else:
            components.append(([link.producer, link.consumer], link.mode == "whole"))
        previous = link
    return components


def components_fit(pinned: Sequence[ForwardLink], whole_fits: Callable[[str], bool]) -> bool:
    return all(
        not whole or all(whole_fits(name) for name in layers) for layers, whole in pin_components(pinned)
    )


def _as_pin(link: ForwardLink) -> PinCandidate:
    return PinCandidate(link.tensor, link.nbytes, link.saving, link.position, link.position + 1)


def _link_plan(ordered: Sequence[ForwardLink], decisions: dict[int, str]) -> LinkPlan:
    pinned = tuple(link for index, link in enumerate(ordered) if decisions.get(index) == "pin")
    groups: list[list[str]] = []
    previous = -2
    for index, link in enumerate(ordered):
        if decisions.get(index) != "fuse":
            continue
        if groups and previous == link.position - 1 and groups[-1][-1] == link.producer:
            groups[-1].append(link.consumer)
        else:
            groups.append([link.producer, link.consumer])
        previous = link.position
    return LinkPlan(pinned, tuple(tuple(group) for group in groups))
