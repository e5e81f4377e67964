"""The one-line notice of a long run when no progress bar can show it (stderr is not a terminal).

Not a subcommand (the leading underscore keeps cli.py from registering it). A plan over the default
`run.max_tasks` is refused unless the user raised the limit; then the run goes ahead, and a log or a
batch job would otherwise sit silent for its whole length. The notice comes when planning is done and
the tile tasks are counted, before the first one is simulated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def default_max_tasks() -> int:
    from npu_des.config import RunOptions

    return int(RunOptions.model_fields["max_tasks"].default)


def long_run_notice(label: str) -> Callable[[int, int], None]:
    """A simulate() progress callback that prints, once, `npu-des: notice:` with the task count and the
    wall-time estimate when the run has more tasks than the default limit; otherwise it prints nothing."""
    from npu_des.tiling.grid import wall_estimate

    limit, said = default_max_tasks(), list[bool]()

    def progress(done: int, total: int) -> None:
        if said or total <= limit:
            return
        said.append(True)
        print(f"npu-des: notice: {label}: {total:,} tile tasks (raised run.max_tasks; the default refuses "
              f"over {limit:,}), {wall_estimate(total)}; no progress bar as stderr is not a terminal",
              file=sys.stderr, flush=True)

    return progress
