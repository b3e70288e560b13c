"""FHIR resources <-> canonical exchanges: reading in ``inbound.py``, writing in ``outbound.py``."""

from adapters.fhir.inbound import group_by_patient, to_canonical
from adapters.fhir.outbound import from_canonical

__all__ = ["from_canonical", "group_by_patient", "to_canonical"]
