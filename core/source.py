"""Which files on Open Humans are ours: those whose ``source`` is this project's own label.

exchange-member also lists the files of every source a member shared with
the project, and another project may name its file ``moves-storyline-data.json``
too. The label (``direct-sharing-<project id>``) is asked of Open Humans
itself (``GET /api/direct-sharing/project/``, its ``id_label``) the first time
it is needed and kept in the cache for a day, unless ``OH_SOURCE_LABEL``
sets it; nothing else has to be configured to get it right.
"""

from django.conf import settings
from django.core.cache import cache

from apiclients.openhumans import OpenHumansClient

CACHE_KEY = "openhumans:own-source"
CACHE_SECONDS = 24 * 3600


def own_source(access_token: str, client: OpenHumansClient | None = None) -> str:
    if settings.OH_SOURCE_LABEL:
        return settings.OH_SOURCE_LABEL
    label = cache.get(CACHE_KEY)
    if label:
        return str(label)
    label = (client or OpenHumansClient()).project_source(access_token)
    cache.set(CACHE_KEY, label, CACHE_SECONDS)
    return label
