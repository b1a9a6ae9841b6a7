"""Fixtures of the fault suite (``make faults``) and its summary: each end state, each recovery time."""

import shutil
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.faults.stage import Stage

# (fault, end state, seconds to recovery) of every test that got that far, for the summary.
RECOVERIES: list[tuple[str, str, float]] = []


@pytest.fixture
def stage(request, transactional_db, settings, tmp_path) -> Iterator[Stage]:
    """The stand-ins and private Redis servers, started; worker machines are started by the test.

    ``@pytest.mark.stage(scale=..., per_minute=..., per_hour=...)`` changes the
    time scale and the stand-in Moves' limits (ours are one less).
    """
    if connection.vendor != "postgresql":
        pytest.skip("the fault suite runs on PostgreSQL (DATABASE_URL): its processes share the database")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    marker = request.node.get_closest_marker("stage")
    world = Stage(tmp_path, **(marker.kwargs if marker else {}))
    # The test process reads the stand-ins' stored files where their server writes them.
    settings.SANDBOX_STORAGE_DIR = tmp_path / "sandbox-files"
    world.start()
    try:
        yield world
    finally:
        world.close()


@pytest.fixture
def recovered():
    """Note a fault's end state and how long recovery took, for the suite's summary."""

    def note(fault: str, end_state: str, seconds: float) -> None:
        RECOVERIES.append((fault, end_state, seconds))

    return note


def pytest_terminal_summary(terminalreporter) -> None:
    if not RECOVERIES:
        return
    terminalreporter.section("faults: end state and time to recovery")
    width = max(len(fault) for fault, _, _ in RECOVERIES)
    for fault, end_state, seconds in RECOVERIES:
        terminalreporter.write_line(f"{fault.ljust(width)}  {seconds:6.1f} s  {end_state}")
