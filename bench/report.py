"""The single-member table (ours beside the original design), and its targets."""

from dataclasses import dataclass

from bench.floor import Floor

MB = 1024 * 1024


@dataclass(frozen=True)
class BackfillRun:
    wall: float
    completed: bool
    requests: int
    rate_limited: int
    bytes_sent: int
    bytes_downloaded: int
    rss_above_idle: int
    final_size: int
    runs: int


@dataclass(frozen=True)
class BackfillRow:
    years: int
    weeks: int
    floor: Floor
    ours: BackfillRun | None
    seed: BackfillRun | None


@dataclass(frozen=True)
class UpdateDataRow:
    members: int
    engine: str
    command: float | None
    queued_members: int | None
    dispatch: float | None
    dispatch_sent: int | None
    dispatch_requests: int | None
    seed: float
    seed_queued: int
    error: str = ""
    # Why the dispatch round handed out nothing, when it did not.
    dispatch_skipped: str = ""


@dataclass(frozen=True)
class Targets:
    floor_slack: float = 0.05
    rss_above_idle_mb: float = 60.0
    update_data_seconds: float = 10.0


def _ratio(run: BackfillRun, floor: Floor) -> str:
    if not run.completed:
        return f"{run.wall:.1f} (NOT FINISHED)"
    if not floor.seconds:
        return f"{run.wall:.1f} (floor 0)"
    return f"{run.wall:.1f} ({run.wall / floor.seconds:.2f}x)"


def _pair(ours: BackfillRun | None, seed: BackfillRun | None, fmt) -> str:
    return f"{fmt(ours) if ours is not None else '-'} / {fmt(seed) if seed is not None else '-'}"


def render(rows: list[BackfillRow], *, scale: float, scheduler: str) -> str:
    header = (
        "years",
        "weeks",
        "floor s",
        "ours s (x floor)",
        "original s (x floor)",
        "requests ours/orig",
        "429s ours/orig",
        "MB to OH ours/orig",
        "MB from OH ours/orig",
        "peak RSS +MB ours/orig",
        "runs ours/orig",
    )
    lines = [header]
    for row in rows:
        lines.append(
            (
                str(row.years),
                str(row.weeks),
                f"{row.floor.seconds:.1f}",
                _ratio(row.ours, row.floor) if row.ours is not None else "-",
                _ratio(row.seed, row.floor) if row.seed is not None else "-",
                _pair(row.ours, row.seed, lambda r: str(r.requests)),
                _pair(row.ours, row.seed, lambda r: str(r.rate_limited)),
                _pair(row.ours, row.seed, lambda r: f"{r.bytes_sent / MB:.1f}"),
                _pair(row.ours, row.seed, lambda r: f"{r.bytes_downloaded / MB:.1f}"),
                _pair(row.ours, row.seed, lambda r: f"{r.rss_above_idle / MB:.1f}"),
                _pair(row.ours, row.seed, lambda r: str(r.runs)),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        f"One member's backfill against the stand-ins, time scale {scale:g} "
        f"(minute window {60 / scale:g} s, 59 requests each); ours run by {scheduler}; "
        "floor: the exact floor of both windows for every week and the profile, W + 1 requests (bench.floor)",
    ]
    for i, line in enumerate(lines):
        out.append("  ".join(cell.rjust(widths[j]) for j, cell in enumerate(line)))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_update_data(update: UpdateDataRow) -> str:
    if update.error:
        return f"update_data, {update.members:,} stale members ({update.engine}): {update.error}"
    ratio = f", {update.seed / update.command:.1f}x faster" if update.command else ""
    return (
        f"update_data, {update.members:,} stale members ({update.engine}): "
        f"the command {update.command:.2f} s "
        f"(one UPDATE queueing {update.queued_members:,} members, one wake-up of the dispatcher); "
        f"then one dispatch round over them {update.dispatch:.2f} s "
        f"({update.dispatch_sent} runs queued, {update.dispatch_requests} Moves requests handed out"
        f"{': ' + update.dispatch_skipped if update.dispatch_skipped else ''}); "
        f"the original per-member loop {update.seed:.2f} s ({update.seed_queued:,} messages){ratio}"
    )


def missed_targets(rows: list[BackfillRow], update: UpdateDataRow | None, targets: Targets) -> list[str]:
    missed = []
    for row in rows:
        ours = row.ours
        if ours is None:
            missed.append(f"{row.years} y: ours did not run")
            continue
        if not ours.completed:
            missed.append(f"{row.years} y: ours did not finish ({ours.wall:.0f} s)")
        elif row.floor.seconds and ours.wall > row.floor.seconds * (1 + targets.floor_slack):
            missed.append(
                f"{row.years} y: wall {ours.wall:.1f} s is more than {targets.floor_slack:.0%} "
                f"over the exact floor {row.floor.seconds:.1f} s ({ours.wall / row.floor.seconds:.2f}x)"
            )
        if ours.rate_limited:
            missed.append(f"{row.years} y: {ours.rate_limited} requests answered 429")
        if ours.rss_above_idle > targets.rss_above_idle_mb * MB:
            missed.append(
                f"{row.years} y: peak RSS {ours.rss_above_idle / MB:.1f} MB above idle "
                f"(target < {targets.rss_above_idle_mb:g} MB)"
            )
    if update is not None:
        if update.command is None:
            missed.append(f"update_data did not run: {update.error}")
        elif update.command > targets.update_data_seconds:
            missed.append(
                f"update_data took {update.command:.1f} s for {update.members:,} members "
                f"(target < {targets.update_data_seconds:g} s)"
            )
        if update.command is not None and not update.dispatch_sent:
            missed.append(
                f"the dispatch round after update_data handed out nothing ({update.dispatch_skipped})"
            )
    return missed
