"""The serving layer: running the app for a room of people.

- :mod:`~ferviz.serve.access`: shared mode (no server paths, upload budgets, listed datasets).
- :mod:`~ferviz.serve.jobs`: the work queue and the thread budget per request.
- :mod:`~ferviz.serve.deploy`: N Streamlit replicas behind nginx (``ferviz serve``).

Nothing here imports Streamlit. The public names below are imported lazily.
"""

from ferviz._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "shared_mode": "access", "UploadBudget": "access", "apply_threads": "jobs", "WorkQueue": "jobs",
    "nginx_config": "deploy", "start": "deploy",
})
