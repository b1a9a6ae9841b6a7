"""The stand-ins' own counts of what reached them, read by the benchmark.

``run_sandbox`` counts (see ``sandbox.counting``) into the Redis hash named
by SANDBOX_REQUEST_COUNTS_KEY, which ``bench.env`` sets to ``COUNTS_KEY``:
Moves API requests and their 429 answers, Open Humans API calls by endpoint
(``oh_calls:<endpoint>``), and the bytes of storage PUTs (uploads) and GETs
(downloads). Taken where the traffic arrives, not where the client thinks
it sent it; every server thread adds to one total.
"""

import redis

COUNTS_KEY = "bench:counts"


def read_counts(client: redis.Redis) -> dict[str, int]:
    raw = client.hgetall(COUNTS_KEY)
    return {key.decode(): int(value) for key, value in raw.items()}


def reset_counts(client: redis.Redis) -> None:
    client.delete(COUNTS_KEY)
