"""Local stand-ins for the Moves API v1.1 and the Open Humans API.

Installed only when SANDBOX_ENABLED; mounted at /sandbox/. Point the app at it
with ``sandbox.testing.point_app_at_sandbox(settings, base_url)``. Pages:
/sandbox/ (overview and fault switches), the two OAuth consent pages; JSON
fault switches at /sandbox/faults/. See ``sandbox.urls`` for every endpoint.
"""
