"""Local stand-ins for the Moves API v1.1 and the Open Humans API, faithful to what is known of both.

Run them with ``python manage.py run_sandbox --settings=sandbox.settings
--port PORT``: both answer at the root of http://HOST:PORT/ under the real
paths, with their own database; point the app at them with
``sandbox.testing.point_app_at_sandbox(settings, base_url)``. The control
page is at / (see ``sandbox.routes`` for every endpoint and README.md,
"Sandbox fidelity", for how close each is to the real service).
"""
