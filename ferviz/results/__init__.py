"""The results layer: what a model measures, and what was measured, read back from committed files.

- :mod:`~ferviz.results.metrics` and :mod:`~ferviz.results.evaluation`: a :class:`MetricReport` of a model
  on a dataset; :mod:`~ferviz.results.significance` (intervals, paired tests),
  :mod:`~ferviz.results.leakage` and :mod:`~ferviz.results.audits` (training-set copies in a test split).
- Model cards: :mod:`~ferviz.results.modelcard` (the card read back), :mod:`~ferviz.results.shipping`
  (``ferviz ship`` writes it), :mod:`~ferviz.results.summary` (the Home page's view of it).
- Committed measurements: :mod:`~ferviz.results.records` (files read into records),
  :mod:`~ferviz.results.reports` (the tables beside the paper's numbers, :mod:`~ferviz.results.reported`),
  :mod:`~ferviz.results.studies` (ablations, seeds, levers).

The public names below are imported lazily.
"""

from ferviz._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "Evaluation": "evaluation", "evaluate": "evaluation", "MetricReport": "metrics",
    "compute_report": "metrics", "ModelCard": "modelcard", "read_card": "modelcard",
    "card_beside": "modelcard", "ship": "shipping", "Discovery": "records", "discover": "records",
    "measured_frame": "reports", "comparison_frame": "reports", "ablation_frame": "studies",
    "lever_table": "studies", "card_summary": "summary",
})
