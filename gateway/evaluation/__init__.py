"""Evidence for evaluators: one cohort's linked, pseudonymised outcome export.

``cohorts`` reads the agreement's cohorts; ``export`` decides, minimises,
measures, suppresses, writes and audits one export; ``facts``, ``measures``,
``suppression`` and ``dictionary`` are its parts; ``synthetic`` makes test
data (it needs ``faker``, a development dependency). See ``docs/evaluation.md``.
"""

from gateway.evaluation.cohorts import Cohort, Entry, load_cohorts
from gateway.evaluation.export import EvaluationError, Exported, export_cohort, pseudonym
from gateway.evaluation.suppression import Suppressed, suppress

__all__ = [
    "Cohort",
    "Entry",
    "EvaluationError",
    "Exported",
    "Suppressed",
    "export_cohort",
    "load_cohorts",
    "pseudonym",
    "suppress",
]
