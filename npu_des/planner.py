"""Old import path of npu_des.schedule.planner (the pin planner), kept for existing imports."""

from npu_des.schedule.planner import (
    ForwardLink,
    LinkPlan,
    PinCandidate,
    alive_peak,
    check_pins_fit,
    components_fit,
    greedy_forward_links,
    greedy_pins,
    optimal_pins,
    pin_components,
    plan_forward_links,
    plan_pins,
)

__all__ = [
    "ForwardLink",
    "LinkPlan",
    "PinCandidate",
    "alive_peak",
    "check_pins_fit",
    "components_fit",
    "greedy_forward_links",
    "greedy_pins",
    "optimal_pins",
    "pin_components",
    "plan_forward_links",
    "plan_pins",
]
