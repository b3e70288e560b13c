"""The exchange pipeline; see ``flow.py`` for the order of the stages."""

from gateway.pipeline.flow import Accepted, Pipeline, Submission

__all__ = ["Accepted", "Pipeline", "Submission"]
