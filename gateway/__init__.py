"""The information-sharing gateway: partner records in, policy-checked, minimised,
audited copies out. The pipeline is in ``gateway.pipeline``; start at its ``flow``."""
