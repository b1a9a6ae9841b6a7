"""The benchmark's one table, and the targets it is checked against."""

import math
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class BackfillRun:
    wall: float
    requests: int
    rate_limited: int
    bytes_sent: int
    bytes_downloaded: int
    idle_rss: int
    peak_rss: int
    final_size: int
    runs: int

    @property
    def rss_above_idle(self) -> int:
        return max(0, self.peak_rss - self.idle_rss)


@dataclass(frozen=True)
class BackfillRow:
    years: int
    weeks: int
    floor: float
    ours: BackfillRun | None
    seed: BackfillRun | None


@dataclass(frozen=True)
class UpdateDataRow:
    members: int
    engine: str
    ours: float | None
    ours_queued: int | None
    fan_out: float | None
    seed: float
    seed_queued: int


@dataclass(frozen=True)
class Targets:
    floor_slack: float = 0.05
    rss_above_idle_mb: float = 60.0
    update_data_seconds: float = 10.0


def floor_seconds(weeks: int, per_window: int, window: float) -> float:
    """ceil((W + 1) / L) windows: every week plus the profile call, L requests per window."""
    return math.ceil((weeks + 1) / per_window) * window


def _pair(ours: str | None, seed: str | None) -> str:
    return f"{ours if ours is not None else '-'} / {seed if seed is not None else '-'}"


def _fmt_run(run: BackfillRun | None, fmt) -> str | None:
    return None if run is None else fmt(run)


def render(
    rows: list[BackfillRow],
    update: UpdateDataRow | None,
    *,
    scale: float,
    per_window: int,
    window: float,
    scheduler: str,
) -> str:
    header = (
        "years",
        "weeks",
        "floor s",
        "ours s (x floor)",
        "seed s (x floor)",
        "requests ours/seed",
        "429s ours/seed",
        "MB to OH ours/seed",
        "peak RSS +MB ours/seed",
    )
    lines = [header]
    for row in rows:
        ours_wall = f"{row.ours.wall:.1f} ({row.ours.wall / row.floor:.2f}x)" if row.ours is not None else "-"
        seed_wall = f"{row.seed.wall:.1f} ({row.seed.wall / row.floor:.2f}x)" if row.seed is not None else "-"
        lines.append(
            (
                str(row.years),
                str(row.weeks),
                f"{row.floor:.1f}",
                ours_wall,
                seed_wall,
                _pair(
                    _fmt_run(row.ours, lambda r: str(r.requests)),
                    _fmt_run(row.seed, lambda r: str(r.requests)),
                ),
                _pair(
                    _fmt_run(row.ours, lambda r: str(r.rate_limited)),
                    _fmt_run(row.seed, lambda r: str(r.rate_limited)),
                ),
                _pair(
                    _fmt_run(row.ours, lambda r: f"{r.bytes_sent / MB:.1f}"),
                    _fmt_run(row.seed, lambda r: f"{r.bytes_sent / MB:.1f}"),
                ),
                _pair(
                    _fmt_run(row.ours, lambda r: f"{r.rss_above_idle / MB:.1f}"),
                    _fmt_run(row.seed, lambda r: f"{r.rss_above_idle / MB:.1f}"),
                ),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        f"Backfill against the sandbox, time scale {scale:g} (window T = {window:g} s, "
        f"L = {per_window} requests per window); ours scheduled by {scheduler}",
    ]
    for i, line in enumerate(lines):
        out.append("  ".join(cell.rjust(widths[j]) for j, cell in enumerate(line)))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    if update is not None:
        ours = f"{update.ours:.2f} s ({update.ours_queued} queued)" if update.ours is not None else "-"
        if update.fan_out is not None:
            ours += f" + {update.fan_out:.1f} s of worker fan-out"
        ratio = f", {update.seed / update.ours:.1f}x faster" if update.ours else ""
        out.append("")
        out.append(
            f"update_data, {update.members:,} stale members ({update.engine}): ours {ours}, "
            f"seed-style loop {update.seed:.2f} s ({update.seed_queued} queued){ratio}"
        )
    return "\n".join(out)


def missed_targets(rows: list[BackfillRow], update: UpdateDataRow | None, targets: Targets) -> list[str]:
    missed = []
    for row in rows:
        if row.ours is None:
            missed.append(f"{row.years} y: ours did not run")
            continue
        if row.ours.wall > row.floor * (1 + targets.floor_slack):
            missed.append(
                f"{row.years} y: wall {row.ours.wall:.1f} s is more than {targets.floor_slack:.0%} "
                f"over the floor {row.floor:.1f} s"
            )
        if row.ours.rate_limited:
            missed.append(f"{row.years} y: {row.ours.rate_limited} requests answered 429")
        if row.ours.rss_above_idle > targets.rss_above_idle_mb * MB:
            missed.append(
                f"{row.years} y: peak RSS {row.ours.rss_above_idle / MB:.1f} MB above idle "
                f"(target < {targets.rss_above_idle_mb:g} MB)"
            )
    if update is not None:
        if update.ours is None:
            missed.append("update_data did not run")
        elif update.ours > targets.update_data_seconds:
            missed.append(
                f"update_data took {update.ours:.1f} s for {update.members:,} members "
                f"(target < {targets.update_data_seconds:g} s)"
            )
    return missed
