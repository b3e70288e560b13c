"""The governance lead's tools over a policy bundle, beside the engine rather than in it.

``lint`` (meaning, beyond the schema), ``suite`` (the YAML policy tests),
``explain``, ``diff``, ``matrix`` (the ISA appendix), ``replay`` (a proposed
agreement against recorded exchanges) and ``schema`` (the editors' JSON
Schemas). The ``gateway policy`` commands (``gateway.cli.policy``) run them;
the gateway itself uses only lint and the suites, to vet a reload.
"""
