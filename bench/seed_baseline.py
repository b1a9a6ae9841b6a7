"""The original whole-file design, re-implemented for side-by-side figures.

What the first version of this project did, step for step, against the same
sandbox:

- each task run downloads the member's whole file from Open Humans and
  ``json.load``s it, then continues from the last day it holds (that day's
  week is dropped and fetched again);
- weeks are fetched with plain requests-respectful: one realm of 60 requests
  per minute (scaled) at the library's default safety threshold of 10, so
  at most 50 of the 60 are ever used, and the hourly limit is ignored;
- when the realm is full (``RequestsRespectfulRateLimitedError``), and when
  done, the whole history is written back: delete the old file, upload the
  new one (direct upload: POST, PUT, POST);
- after a rate-limit stop the task is queued again with a fixed countdown of
  61 s; here a driver loop sleeps that long (scaled) and runs it again.

One deliberate difference: the original loop stopped before the current week
(``while week != current_week``); here the current week is fetched as well,
so both designs move exactly the same days and the ratios compare designs,
not that off-by-one.

Run as a child process (``python -m bench.seed_baseline``) so its peak RSS is
its own; it prints one JSON line with its figures.
"""

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import django
import psutil

FILE_NAME = "moves-storyline-data.json"
REALM = "moves"
FIXED_COUNTDOWN_SECONDS = 61


class SeedUploader:
    def __init__(self, *, moves_token: str, oh_token: str, project_member_id: str, scale: float) -> None:
        from django.conf import settings
        from requests_respectful import RespectfulRequester

        self.moves_api = settings.MOVES_API_BASE_URL
        self.oh_api = settings.OH_BASE_URL + "/api/direct-sharing/project"
        self.moves_token = moves_token
        self.oh_token = oh_token
        self.project_member_id = project_member_id
        self.scale = scale
        self.rr = RespectfulRequester()
        # The library keeps whole-second timespans (Redis SETEX).
        self.rr.register_realm(REALM, max_requests=60, timespan=max(1, round(60 / scale)))
        self.runs = 0

    # --- Open Humans, the way ohapi called it (token in the query string) ---

    def _oh_url(self, path: str) -> str:
        return f"{self.oh_api}/{path}?{urlencode({'access_token': self.oh_token})}"

    def get_existing_moves(self) -> list[dict]:
        import requests

        url = self._oh_url("exchange-member/")
        files = []
        while url:
            page = requests.get(url, timeout=60)
            page.raise_for_status()
            member = page.json()
            files += member["data"]
            url = member["next"]
        for remote in files:
            if "Moves" in remote["metadata"].get("tags", []):
                with tempfile.NamedTemporaryFile(suffix=".json") as tf_in:
                    tf_in.write(requests.get(remote["download_url"], timeout=60).content)
                    tf_in.flush()
                    with open(tf_in.name) as stream:
                        return json.load(stream)
        return []

    def replace_moves(self, moves_data: list[dict]) -> None:
        import requests

        with tempfile.TemporaryDirectory() as tmp_directory:
            out_file = Path(tmp_directory) / FILE_NAME
            metadata = {
                "description": "Moves GPS maps, locations, and steps data.",
                "tags": ["GPS", "Moves", "steps"],
                "updated_at": datetime.now().isoformat(),
            }
            deleted = requests.post(
                self._oh_url("files/delete/"),
                data={"project_member_id": self.project_member_id, "file_basename": FILE_NAME},
                timeout=60,
            )
            deleted.raise_for_status()
            with out_file.open("w") as json_file:
                json.dump(moves_data, json_file)
            direct = requests.post(
                self._oh_url("files/upload/direct/"),
                data={
                    "project_member_id": self.project_member_id,
                    "metadata": json.dumps(metadata),
                    "filename": FILE_NAME,
                },
                timeout=60,
            )
            assert direct.status_code == 201, direct.content[:200]
            with out_file.open("rb") as stream:
                put = requests.put(direct.json()["url"], data=stream, timeout=120)
            assert put.status_code == 200, put.content[:200]
            done = requests.post(
                self._oh_url("files/upload/complete/"),
                data={"project_member_id": self.project_member_id, "file_id": direct.json()["id"]},
                timeout=60,
            )
            assert done.status_code == 200, done.content[:200]

    # --- Moves ---

    def get_start_date(self, moves_data: list[dict]) -> str:
        if not moves_data:
            url = f"{self.moves_api}/user/profile?access_token={self.moves_token}"
            response = self.rr.get(url, wait=True, realms=[REALM], timeout=60)
            return response.json()["profile"]["firstDate"]
        return moves_data[-1]["date"]

    @staticmethod
    def remove_partial_data(moves_data: list[dict], start_iso: tuple[int, int]) -> list[dict]:
        doomed = [
            i
            for i, element in enumerate(moves_data)
            if datetime.strptime(element["date"], "%Y%m%d").isocalendar()[:2] == start_iso
        ]
        for index in sorted(doomed, reverse=True):
            del moves_data[index]
        return moves_data

    def update_moves(self, moves_data: list[dict]) -> bool:
        """One task run's fetching; True when the realm was full and the task must run again."""
        from requests_respectful import RequestsRespectfulRateLimitedError

        requeue = False
        try:
            start_date = datetime.strptime(self.get_start_date(moves_data), "%Y%m%d")
            start_iso = tuple(start_date.isocalendar()[:2])
            moves_data = self.remove_partial_data(moves_data, start_iso)
            current_iso = tuple(date.today().isocalendar()[:2])
            while start_iso <= current_iso:
                query = (
                    f"{self.moves_api}/user/storyline/daily/{start_iso[0]}-W{start_iso[1]:02d}"
                    f"?trackPoints=true&access_token={self.moves_token}"
                )
                response = self.rr.get(query, realms=[REALM], timeout=60)
                moves_data += response.json()
                start_date = start_date + timedelta(days=7)
                start_iso = tuple(start_date.isocalendar()[:2])
        except RequestsRespectfulRateLimitedError:
            requeue = True
        finally:
            self.replace_moves(moves_data)
        return requeue

    def process_moves(self) -> bool:
        self.runs += 1
        return self.update_moves(self.get_existing_moves())

    def backfill(self) -> None:
        while self.process_moves():
            time.sleep(FIXED_COUNTDOWN_SECONDS / self.scale)


def configure_respectful(redis_url: str) -> None:
    """Point requests-respectful's module-level client at the benchmark's own Redis database."""
    from urllib.parse import urlsplit

    from requests_respectful import RespectfulRequester

    parts = urlsplit(redis_url)
    database = int(parts.path.lstrip("/") or 0)
    RespectfulRequester.configure(
        redis={"host": parts.hostname, "port": parts.port or 6379, "database": database},
        safety_threshold=10,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves-token", required=True)
    parser.add_argument("--oh-token", required=True)
    parser.add_argument("--project-member-id", required=True)
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--respectful-redis", required=True)
    args = parser.parse_args()

    django.setup()
    import requests  # noqa: F401 - part of the idle size, as in a worker
    import requests_respectful  # noqa: F401

    configure_respectful(args.respectful_redis)
    uploader = SeedUploader(
        moves_token=args.moves_token,
        oh_token=args.oh_token,
        project_member_id=args.project_member_id,
        scale=args.scale,
    )
    idle = psutil.Process(os.getpid()).memory_info().rss
    started = time.perf_counter()
    uploader.backfill()
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall": wall, "idle_rss": idle, "peak_rss": peak, "runs": uploader.runs}))


if __name__ == "__main__":
    main()
