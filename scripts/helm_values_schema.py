"""The Helm chart's values.schema.json and its reference, docs/helm-values.md, generated.

The gateway's settings (gateway/settings.py, gateway/notify/config.py) give the schema of
the chart's ``settings`` and ``notify`` maps and the secret variables ``secrets`` may name;
the chart's own values are described here. A wrong value then fails ``helm install``, not
the pods. tests/deploy/test_chart.py checks both files are current:

    .venv/bin/python scripts/helm_values_schema.py          # write them
    .venv/bin/python scripts/helm_values_schema.py --check  # exit 1 if either is stale
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "isg-gateway"
SCHEMA_FILE = CHART / "values.schema.json"
DOC_FILE = ROOT / "docs" / "helm-values.md"

#: Settings whose value is a file the chart mounts: the chart sets their paths.
CHART_MANAGED = {
    "data_dir": "an emptyDir at /var/lib/isg",
    "policy_dir": "`policies`",
    "partners_file": "`partners.delivery`",
    "clients_file": "`partners.registrations`",
    "token_signing_keys_file": "`tokenSigningKeys`",
    "token_signing_keys_read_only": "`tokenSigningKeys` (true with a Secret)",
    "kafka_ssl_ca_file": "`kafka.tls.caSecret`",
    "kafka_ssl_cert_file": "`kafka.tls.clientSecret`",
    "kafka_ssl_key_file": "`kafka.tls.clientSecret`",
    "database_ssl_root_cert_file": "`postgresql.tls.caSecret`",
    "database_ssl_cert_file": "`postgresql.tls.clientSecret`",
    "database_ssl_key_file": "`postgresql.tls.clientSecret`",
    "relay_metrics_host": "0.0.0.0 in the relay pods",
    "relay_metrics_port": "`relay.metricsPort`",
}
#: Not a SecretStr, but it carries the database's password: a secret all the same.
SECRET_ANYWAY = {"database_url"}
ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$"


def _is_secret(model: type[BaseSettings], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    return name in SECRET_ANYWAY or SecretStr in getattr(annotation, "__args__", (annotation,))


def _clean(schema: Any) -> Any:
    """Pydantic's JSON schema of a field, without titles (the key names it)."""
    if isinstance(schema, dict):
        return {k: _clean(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_clean(v) for v in schema]
    return schema


def _fields(model: type[BaseSettings], prefix: str) -> tuple[dict[str, Any], list[str]]:
    """(schema properties of the plain settings, names of the secret variables)."""
    generated = model.model_json_schema()
    assert "$defs" not in generated, "a settings field refers to a model: describe it here"
    properties, secrets = {}, []
    for name in model.model_fields:
        if _is_secret(model, name):
            secrets.append(prefix + name.upper())
        elif name not in CHART_MANAGED:
            properties[name] = _clean(generated["properties"][name])
    return properties, secrets


def _obj(properties: dict[str, Any], description: str = "", **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        **extra,
    }
    if description:
        schema["description"] = description
    return schema


def _str(description: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def _int(description: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": "integer", **({"description": description} if description else {}), **extra}


def _bool(description: str = "") -> dict[str, Any]:
    return {"type": "boolean", **({"description": description} if description else {})}


def _free(description: str, kind: str = "object") -> dict[str, Any]:
    """Passed to Kubernetes as it is (Kubernetes checks it)."""
    return {"type": kind, "description": description}


QUANTITY = {"type": ["string", "number"]}
RESOURCES = _obj(
    {
        "requests": _obj({"cpu": QUANTITY, "memory": QUANTITY}, required=["cpu", "memory"]),
        "limits": _obj({"cpu": QUANTITY, "memory": QUANTITY}, required=["cpu", "memory"]),
    },
    "Requests and limits; both are required, so every pod is scheduled and bounded.",
    required=["requests", "limits"],
)


def _probe(description: str, success: bool = False) -> dict[str, Any]:
    props = {
        "periodSeconds": _int(minimum=1),
        "timeoutSeconds": _int(minimum=1),
        "failureThreshold": _int(minimum=1),
    }
    if success:
        props["successThreshold"] = _int(minimum=1)
    return _obj(props, description, required=list(props))


def _secret_key(description: str, *keys: str) -> dict[str, Any]:
    return _obj(
        {"name": _str("The Secret's name; empty: not used."), **{k: _str() for k in keys}},
        description,
        required=["name", *keys],
    )


PEERS = {
    "type": "array",
    "items": {"type": "object"},
    "description": "NetworkPolicy peers (ipBlock, namespaceSelector, podSelector).",
}
PORTS = {
    "type": "array",
    "items": _obj(
        {"port": {"type": ["integer", "string"]}, "protocol": {"enum": ["TCP", "UDP", "SCTP"]}},
        required=["port"],
    ),
}


def _egress(description: str) -> dict[str, Any]:
    return _obj({"to": PEERS, "ports": PORTS}, description, required=["to", "ports"])


def _pods(component: str, grace_min: int, extra: dict[str, Any]) -> dict[str, Any]:
    pre_stop = " and preStop" if component == "api" else ""
    return {
        "replicaCount": _int("Pods (without autoscaling).", minimum=1),
        "resources": RESOURCES,
        "terminationGracePeriodSeconds": _int(
            "Seconds between SIGTERM and SIGKILL: above the process's own shutdown "
            f"(its workers' last batch, 30 s at most){pre_stop}.",
            minimum=grace_min,
        ),
        "startupProbe": _probe("Until the process has started (policies loaded, store checked)."),
        "livenessProbe": _probe("The process answers; asks no other service."),
        "podDisruptionBudget": _obj(
            {"enabled": _bool(), "minAvailable": {"type": ["integer", "string"]}},
            required=["enabled", "minAvailable"],
        ),
        "podAnnotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "podLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
        "tolerations": _free("Pod tolerations.", "array"),
        "affinity": _free("Pod affinity."),
        "topologySpreadConstraints": _free(
            "Empty: spread over nodes (kubernetes.io/hostname), as a preference.", "array"
        ),
        "extraEnv": _free("More container env entries.", "array"),
        **extra,
    }


def _required_when(flag: list[str], required: dict[str, Any]) -> dict[str, Any]:
    """if <flag path> is true then <required> (a schema of the same object)."""
    condition: dict[str, Any] = {"const": True}
    for key in reversed(flag):
        condition = {"properties": {key: condition}, "required": [key]}
    return {"if": condition, "then": required}


#: What the chart's values mean, where the schema above leaves it unsaid.
DESCRIPTIONS = {
    "nameOverride": "Instead of the chart's name in the objects' names.",
    "fullnameOverride": "Instead of <release>-<chart> (cut to 63 characters).",
    "image.repository": "The image built from the Dockerfile.",
    "image.pullPolicy": "When the kubelet pulls the image.",
    "serviceAccount": "The pods' service account (no token is mounted: the gateway never "
    "calls the Kubernetes API).",
    "serviceAccount.create": "Make one for the release.",
    "serviceAccount.name": "Its name; empty: the release's full name.",
    "serviceAccount.annotations": "E.g. a cloud identity for the pods.",
    "policies.source": "configMap (policies.files), existingConfigMap, or gitSync.",
    "policies.existingConfigMap": "The ConfigMap with the bundle (source existingConfigMap).",
    "policies.items": "Key -> path in the bundle (existingConfigMap); empty: every key at the top.",
    "policies.gitSync.ref": "The branch, tag or commit to follow.",
    "policies.gitSync.periodSeconds": "How often git-sync fetches.",
    "partners.registrations": "Who may call: clients.yaml and its JWKS files "
    "(GATEWAY_CLIENTS_FILE), from a Secret.",
    "partners.registrations.jwks": "File name -> JWKS document, beside clients.yaml.",
    "kafka.tls": "Kafka's certificates, mounted; the protocol and SASL are settings.",
    "postgresql.tls": "PostgreSQL's certificates, mounted; settings.database_ssl_mode says how.",
    "api.port": "The container's port (the Service's targetPort).",
    "api.podDisruptionBudget": "At least minAvailable API pods through a drain.",
    "api.autoscaling": "A HorizontalPodAutoscaler on CPU (it then owns the replica count).",
    "relay.metricsPort": "Where a relay serves /metrics (its liveness probe's port too).",
    "relay.podDisruptionBudget": "At least minAvailable relays through a drain.",
    "relay.readinessProbe": "",
    "migrations.backoffLimit": "Retries of a failed migration before the release fails.",
    "migrations.activeDeadlineSeconds": "The longest a migration may run.",
    "migrations.ttlSecondsAfterFinished": "When a finished Job is removed.",
    "service": "The API's Service.",
    "service.port": "The Service's port (to the pods' http port).",
    "ingress.enabled": "An Ingress for the API.",
    "ingress.className": "The IngressClass (nginx for mutual TLS).",
    "ingress.host": "The gateway's address for partners and people.",
    "ingress.annotations": "E.g. cert-manager's issuer.",
    "ingress.mutualTls.verifyDepth": "How long a certificate chain may be.",
    "networkPolicy.enabled": "NetworkPolicies for the API, the relays and the migrations.",
    "networkPolicy.ingressFrom": "Who may reach the API (the ingress controller); empty: any.",
    "networkPolicy.metricsFrom": "Who may scrape /metrics (the API's and the relays').",
    "serviceMonitor.enabled": "Prometheus Operator ServiceMonitors for the API and relays.",
    "serviceMonitor.interval": "How often they are scraped.",
    "serviceMonitor.labels": "Labels your Prometheus selects ServiceMonitors by.",
    "kafkaTopics.enabled": "Strimzi KafkaTopics: a deliveries and an urgent topic per recipient.",
    "kafkaTopics.recipients": "The parties that receive copies (the agreement's parties).",
    "kafkaTopics.partitions": "Partitions per topic (a subject's records stay on one).",
    "kafkaTopics.replicas": "Replicas per topic (three in production).",
    "kafkaTopics.config": "Topic configuration (min.insync.replicas, retention.ms ...).",
}


def _describe(schema: dict[str, Any]) -> None:
    for path, text in DESCRIPTIONS.items():
        node = schema
        for key in path.split("."):
            node = node.get("properties", {}).get(key, {})
        if node and text and not node.get("description"):
            node["description"] = text


def build_schema() -> dict[str, Any]:
    from gateway.notify.config import NotifySettings
    from gateway.settings import Settings

    settings, secret_settings = _fields(Settings, "GATEWAY_")
    notify, secret_notify = _fields(NotifySettings, "GATEWAY_NOTIFY_")
    known_env = sorted(
        {*secret_settings, *secret_notify}
        | {"GATEWAY_" + n.upper() for n in Settings.model_fields if n not in CHART_MANAGED}
        | {"GATEWAY_NOTIFY_" + n.upper() for n in NotifySettings.model_fields}
    )
    env_name = {
        "allOf": [
            {"pattern": ENV_NAME},
            {"anyOf": [{"enum": known_env}, {"not": {"pattern": "^GATEWAY_"}}]},
        ]
    }
    image = _obj(
        {
            "repository": _str(minLength=1),
            "tag": _str("Empty: the chart's appVersion."),
            "digest": _str(
                "sha256:...: the exact image (wins over tag).", pattern="^(sha256:[0-9a-f]{64})?$"
            ),
            "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        },
        required=["repository", "tag", "digest", "pullPolicy"],
    )
    git_sync = _obj(
        {
            "image": _obj(
                {
                    "repository": _str(minLength=1),
                    "tag": _str(minLength=1),
                    "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
                },
                required=["repository", "tag", "pullPolicy"],
            ),
            "repo": _str("The policy repository (https:// or ssh)."),
            "ref": _str(minLength=1),
            "subPath": _str("The bundle's directory in the repository."),
            "periodSeconds": _int(minimum=5),
            "existingSecret": _str("git-sync's credentials (GITSYNC_PASSWORD..., or an ssh key)."),
            "sshKeyKey": _str("The ssh key's key in existingSecret (with known_hosts beside it)."),
            "resources": RESOURCES,
        },
        "git-sync, once before the gateway starts, then beside it.",
    )
    values = _obj(
        {
            "nameOverride": _str(maxLength=63),
            "fullnameOverride": _str(maxLength=63),
            "image": image,
            "imagePullSecrets": _free("Secrets to pull the image with.", "array"),
            "serviceAccount": _obj(
                {
                    "create": _bool(),
                    "name": _str(),
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                }
            ),
            "settings": _obj(
                settings,
                "The gateway's settings (GATEWAY_<NAME>), by name; null leaves one unset. "
                "Generated from gateway/settings.py.",
            ),
            "notify": _obj(notify, "GATEWAY_NOTIFY_<NAME> settings (gateway/notify/config.py)."),
            "secrets": _obj(
                {
                    "existingSecret": _str("A Secret whose keys are environment variables."),
                    "env": {
                        "type": "object",
                        "description": "Variable -> value: a Secret the chart makes.",
                        "propertyNames": env_name,
                        "additionalProperties": {"type": "string"},
                    },
                    "fromSecrets": {
                        "type": "object",
                        "description": "Variable -> {name, key} of another Secret.",
                        "propertyNames": env_name,
                        "additionalProperties": _obj(
                            {"name": _str(minLength=1), "key": _str(minLength=1)},
                            required=["name", "key"],
                        ),
                    },
                },
                "Secrets as environment variables: "
                + ", ".join(secret_settings + secret_notify)
                + ", and the webhook keys the partners file names.",
            ),
            "policies": _obj(
                {
                    "source": {"enum": ["configMap", "existingConfigMap", "gitSync"]},
                    "files": {
                        "type": "object",
                        "description": "Relative path -> content (source configMap).",
                        "propertyNames": {"pattern": "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"},
                        "additionalProperties": {"type": "string"},
                    },
                    "existingConfigMap": _str(),
                    "items": {"type": "object", "additionalProperties": {"type": "string"}},
                    "gitSync": git_sync,
                },
                "The policy bundle in force, with its routes.",
                allOf=[
                    {
                        "if": {"properties": {"source": {"const": "gitSync"}}},
                        "then": {
                            "properties": {"gitSync": {"properties": {"repo": {"minLength": 1}}}}
                        },
                    },
                    {
                        "if": {"properties": {"source": {"const": "existingConfigMap"}}},
                        "then": {"properties": {"existingConfigMap": {"minLength": 1}}},
                    },
                ],
            ),
            "partners": _obj(
                {
                    "delivery": _free("The partners file (where copies go), as YAML."),
                    "registrations": _obj(
                        {
                            "existingSecret": _str("clients.yaml and the JWKS files it names."),
                            "clients": _free("clients.yaml's content: {clients: [...]}."),
                            "jwks": {"type": "object", "additionalProperties": {"type": "object"}},
                        }
                    ),
                }
            ),
            "tokenSigningKeys": _obj(
                {"existingSecret": _str("A Secret with token-signing.json (read-only).")}
            ),
            "kafka": _obj(
                {
                    "tls": _obj(
                        {
                            "caSecret": _secret_key("The brokers' CA.", "key"),
                            "clientSecret": _secret_key(
                                "A client certificate.", "certKey", "keyKey"
                            ),
                        }
                    )
                }
            ),
            "postgresql": _obj(
                {
                    "tls": _obj(
                        {
                            "caSecret": _secret_key("The server's CA.", "key"),
                            "clientSecret": _secret_key(
                                "A client certificate.", "certKey", "keyKey"
                            ),
                        }
                    )
                }
            ),
            "api": _obj(
                _pods(
                    "api",
                    45,
                    {
                        "workers": _int(
                            "API processes per pod (serve --workers).", minimum=1, maximum=64
                        ),
                        "port": _int(minimum=1024, maximum=65535),
                        "preStopSeconds": _int(
                            "Serving on while endpoints update.", minimum=0, maximum=30
                        ),
                        "readinessProbe": _probe(
                            "The store answers (a broker outage is 'degraded', still ready).",
                            success=True,
                        ),
                        "autoscaling": _obj(
                            {
                                "enabled": _bool(),
                                "minReplicas": _int(minimum=1),
                                "maxReplicas": _int(minimum=1),
                                "targetCPUUtilizationPercentage": _int(minimum=10, maximum=100),
                            },
                            required=[
                                "enabled",
                                "minReplicas",
                                "maxReplicas",
                                "targetCPUUtilizationPercentage",
                            ],
                        ),
                    },
                ),
                "The API pods: gateway serve --no-relay.",
            ),
            "relay": _obj(
                _pods("relay", 40, {"metricsPort": _int(minimum=1024, maximum=65535)}),
                "The relay pods: gateway relay (with the escalation clock and retention).",
            ),
            "migrations": _obj(
                {
                    "enabled": _bool("gateway db upgrade as a pre-install/pre-upgrade hook."),
                    "databaseUrlSecret": _secret_key(
                        "The operator's database URL, for the migrations only.", "key"
                    ),
                    "backoffLimit": _int(minimum=0),
                    "activeDeadlineSeconds": _int(minimum=30),
                    "ttlSecondsAfterFinished": _int(minimum=0),
                    "resources": RESOURCES,
                }
            ),
            "service": _obj(
                {
                    "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                    "port": _int(minimum=1, maximum=65535),
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                }
            ),
            "ingress": _obj(
                {
                    "enabled": _bool(),
                    "className": _str(),
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    "host": _str(minLength=1),
                    "tlsSecret": _str("The certificate's Secret; empty: no TLS."),
                    "mutualTls": _obj(
                        {
                            "enabled": _bool("Client certificates required (ingress-nginx)."),
                            "caSecret": _str("The partnership CA's Secret (key ca.crt)."),
                            "verifyDepth": _int(minimum=1, maximum=10),
                        }
                    ),
                },
                allOf=[
                    _required_when(
                        ["mutualTls", "enabled"],
                        {
                            "properties": {
                                "tlsSecret": {"minLength": 1},
                                "mutualTls": {"properties": {"caSecret": {"minLength": 1}}},
                            }
                        },
                    )
                ],
            ),
            "podSecurityContext": _free("The pods' securityContext.")
            | {
                "properties": {"runAsNonRoot": {"const": True}},
                "required": ["runAsNonRoot"],
            },
            "securityContext": _free("The containers' securityContext.")
            | {
                "properties": {
                    "runAsNonRoot": {"const": True},
                    "readOnlyRootFilesystem": {"const": True},
                    "allowPrivilegeEscalation": {"const": False},
                },
                "required": [
                    "runAsNonRoot",
                    "readOnlyRootFilesystem",
                    "allowPrivilegeEscalation",
                    "capabilities",
                ],
            },
            "networkPolicy": _obj(
                {
                    "enabled": _bool(),
                    "ingressFrom": PEERS,
                    "metricsFrom": PEERS,
                    "egress": _obj(
                        {
                            "dns": _egress("DNS."),
                            "kafka": _egress("The Kafka brokers (every one, not only bootstrap)."),
                            "postgresql": _egress("PostgreSQL."),
                            "identityProvider": _egress("The identity provider."),
                            "partnerKeys": _egress(
                                "Partner systems' JWKS URLs (jwks_url registrations; API)."
                            ),
                            "webhooks": _egress("The partners' webhook hosts (relays)."),
                            "notify": _egress("The mail relay or GOV.UK Notify (relays)."),
                            "git": _egress("The policy repository (git-sync)."),
                            "extra": _free("More egress rules, as they are.", "array"),
                        },
                        required=["dns", "kafka", "postgresql"],
                    ),
                },
                allOf=[
                    _required_when(
                        ["enabled"],
                        {
                            "properties": {
                                "egress": {
                                    "properties": {
                                        "kafka": {"properties": {"to": {"minItems": 1}}},
                                        "postgresql": {"properties": {"to": {"minItems": 1}}},
                                    }
                                }
                            }
                        },
                    )
                ],
            ),
            "serviceMonitor": _obj(
                {
                    "enabled": _bool(),
                    "interval": _str(pattern="^[0-9]+(ms|s|m|h)$"),
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                }
            ),
            "kafkaTopics": _obj(
                {
                    "enabled": _bool(),
                    "cluster": _str("The Strimzi Kafka cluster (strimzi.io/cluster)."),
                    "namespace": _str("The Kafka cluster's namespace; empty: the release's."),
                    "recipients": {
                        "type": "array",
                        "items": _str(minLength=1),
                        "uniqueItems": True,
                    },
                    "partitions": _int(minimum=1),
                    "replicas": _int(minimum=1),
                    "config": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                allOf=[
                    _required_when(
                        ["enabled"],
                        {
                            "properties": {
                                "cluster": {"minLength": 1},
                                "recipients": {"minItems": 1},
                            }
                        },
                    )
                ],
            ),
        },
        required=[
            "image",
            "settings",
            "secrets",
            "policies",
            "api",
            "relay",
            "migrations",
            "securityContext",
            "podSecurityContext",
            "networkPolicy",
        ],
    )
    _describe(values)
    return {"$schema": "http://json-schema.org/draft-07/schema#", **values}


# -- the reference ---------------------------------------------------------------------


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default(value: Any) -> str:
    if value in ({}, [], "", None):
        return "" if value is None else f"`{json.dumps(value)}`"
    text = json.dumps(value) if not isinstance(value, str) else value
    return f"`{_cell(text)}`" if len(text) <= 80 else "(see values.yaml)"


def _chart_rows(schema: dict[str, Any], values: Any, path: str) -> list[str]:
    rows = []
    for key, sub in schema.get("properties", {}).items():
        if path == "" and key in ("settings", "notify"):
            continue
        here = f"{path}.{key}" if path else key
        value = values.get(key) if isinstance(values, dict) else None
        # An object is opened up only where its members say more than the object does.
        nested = (
            sub.get("properties")
            and sub.get("additionalProperties") is False
            and any(child.get("description") for child in sub["properties"].values())
        )
        if nested and isinstance(value, dict) and not set(value) - set(sub["properties"]):
            rows += _chart_rows(sub, value, here)
        else:
            rows.append(
                f"| `{here}` | {_type(sub)} | {_default(value)} | "
                f"{_cell(sub.get('description', ''))} |"
            )
    return rows


def build_reference(schema: dict[str, Any]) -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    settings = schema["properties"]["settings"]["properties"]
    notify = schema["properties"]["notify"]["properties"]
    secrets = schema["properties"]["secrets"]["properties"]["env"]["propertyNames"]
    known = secrets["allOf"][1]["anyOf"][0]["enum"]
    lines = [
        "# Helm values: a reference",
        "",
        "<!-- Generated by scripts/helm_values_schema.py from gateway/settings.py, "
        "gateway/notify/config.py and the chart's values; do not edit by hand. -->",
        "",
        "The chart `helm/isg-gateway` checks every value against `values.schema.json` at "
        "install, so an unknown key or a wrong value fails `helm install` rather than the "
        "pods. How to run the gateway in production is in [operations.md](operations.md); a "
        "production example is `helm/isg-gateway/ci/production-values.yaml`.",
        "",
        "## The chart's values",
        "",
        "| value | type | default | meaning |",
        "| --- | --- | --- | --- |",
        *_chart_rows(schema, values, ""),
        "",
        "## `settings`: the gateway's settings",
        "",
        "Each is `GATEWAY_<NAME>` in the pods' environment (lists and maps as JSON); `null` "
        "leaves it unset. What each does is in [operations.md](operations.md#settings).",
        "",
        "| setting | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, sub in settings.items():
        lines.append(
            f"| `{name}` | {_type(sub)} | {_default(sub.get('default'))} | "
            f"{_cell(sub.get('description', ''))} |"
        )
    lines += [
        "",
        "Set by the chart from what it mounts, so not in `settings`: "
        + "; ".join(f"`{k}` ({v})" for k, v in CHART_MANAGED.items())
        + ".",
        "",
        "## `notify`: who is told an alert waits",
        "",
        "Each is `GATEWAY_NOTIFY_<NAME>` ([notifications.md](notifications.md)).",
        "",
        "| setting | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, sub in notify.items():
        lines.append(
            f"| `{name}` | {_type(sub)} | {_default(sub.get('default'))} | "
            f"{_cell(sub.get('description', ''))} |"
        )
    lines += [
        "",
        "## `secrets`: the variables",
        "",
        "`secrets.env` and `secrets.fromSecrets` take these `GATEWAY_*` names, and any name "
        "not starting `GATEWAY_` (the webhook keys the partners file names); a Secret named "
        "by `secrets.existingSecret` is read whole (`envFrom`). The secret ones:",
        "",
        *[
            f"- `{name}`"
            for name in known
            if name.removeprefix("GATEWAY_").removeprefix("NOTIFY_").lower()
            not in {**settings, **notify}
        ],
        "",
    ]
    return "\n".join(lines)


def render() -> tuple[str, str]:
    schema = build_schema()
    return json.dumps(schema, indent=2) + "\n", build_reference(copy.deepcopy(schema))


def main(argv: list[str]) -> int:
    schema_text, reference = render()
    if "--check" in argv:
        stale = [
            str(path.relative_to(ROOT))
            for path, text in ((SCHEMA_FILE, schema_text), (DOC_FILE, reference))
            if not path.exists() or path.read_text() != text
        ]
        if stale:
            print(f"stale: {', '.join(stale)}; run scripts/helm_values_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.write_text(schema_text)
    DOC_FILE.write_text(reference)
    print(f"wrote {SCHEMA_FILE.relative_to(ROOT)} and {DOC_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
