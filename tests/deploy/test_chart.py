"""The Helm chart, rendered by a real Helm engine for the default values and the production
example: linted, every manifest validated with `kubernetes-validate --strict`, wrong values
refused by the generated schema, and the properties a deployment relies on asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from gateway.delivery.topics import recipient_topic, urgent_topic
from gateway.notify.config import NotifySettings
from gateway.settings import Settings, load_settings
from tests.deploy.chart import (
    CHART,
    ROOT,
    manifests,
    merged,
    one,
    production_values,
    render,
    script,
)

VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
#: The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest bundled.
KUBERNETES = ["1.27.0", "1.37.0"]
#: Custom resources: their operators' schemas are not bundled; checked by hand below.
CUSTOM = {"KafkaTopic": "kafka.strimzi.io/v1beta2", "ServiceMonitor": "monitoring.coreos.com/v1"}
VALUE_SETS = {"default": {}, "production": production_values()}


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return manifests(production_values())


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return manifests({})


def test_the_schema_and_the_values_reference_are_current():
    """values.schema.json and docs/helm-values.md are generated from the settings model and
    the chart's values: after a change, run scripts/helm_values_schema.py."""
    assert script("helm_values_schema").main(["--check"]) == 0


@pytest.mark.parametrize("name", VALUE_SETS)
def test_helm_lint_finds_nothing_to_warn_of(name):
    report = helm.lint(CHART, VALUE_SETS[name], strict=True)
    assert report["errors"] == []
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert serious == []


@pytest.mark.parametrize("kubernetes", KUBERNETES)
@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_manifest_passes_kubernetes_validate_strict(name, kubernetes, tmp_path):
    objects = manifests(VALUE_SETS[name])
    files = []
    for n, obj in enumerate(objects):
        path = tmp_path / f"{n:02d}-{obj['kind']}.yaml"
        path.write_text(yaml.safe_dump(obj))
        files.append(path)
    result = subprocess.run(
        [str(VALIDATE), "--strict", "-k", kubernetes, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path, obj in zip(files, objects, strict=True):
        line = next(li for li in result.stdout.splitlines() if str(path) in li)
        if obj["kind"] in CUSTOM:
            assert obj["apiVersion"] == CUSTOM[obj["kind"]]
            assert "Couldn't find schema" in line
        else:
            assert line.startswith("INFO") and "passed" in line, line


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"settings": {"relay_workers": 100}}, "/settings/relay_workers"),
        ({"settings": {"kafka_bootstarp": "kafka:9092"}}, "kafka_bootstarp"),
        ({"settings": {"kafka_security_protocol": "TLS"}}, "/settings/kafka_security_protocol"),
        ({"settings": {"database_ssl_mode": "on"}}, "/settings/database_ssl_mode"),
        ({"settings": {"pseudonym_key": "in plain values"}}, "pseudonym_key"),
        ({"notify": {"smtp_port": 0}}, "/notify/smtp_port"),
        ({"secrets": {"env": {"GATEWAY_PSEUDONYM_KY": "x"}}}, "GATEWAY_PSEUDONYM_KY"),
        ({"api": {"resources": {"limits": None}}}, "/api/resources"),
        ({"api": {"terminationGracePeriodSeconds": 20}}, "/api/terminationGracePeriodSeconds"),
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
        ({"securityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({"networkPolicy": {"enabled": True}}, "/networkPolicy/egress/kafka/to"),
        ({"policies": {"source": "gitSync"}}, "/policies/gitSync/repo"),
        ({"policies": {"source": "files"}}, "/policies/source"),
        ({"ingress": {"enabled": True, "mutualTls": {"enabled": True}}}, "/ingress/tlsSecret"),
        ({"kafkaTopics": {"enabled": True}}, "/kafkaTopics/cluster"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"replicas": 3}, "replicas"),
    ],
)
def test_a_wrong_value_is_refused_at_install(values, where):
    with pytest.raises(helm.HelmError) as refused:
        render(values)
    assert "schema" in str(refused.value)
    assert where in str(refused.value)


def test_secrets_take_the_gateways_secret_variables_and_webhook_keys():
    objects = manifests(
        {
            "secrets": {
                "env": {
                    "GATEWAY_PSEUDONYM_KEY": "k" * 32,
                    "GATEWAY_DATABASE_URL": "postgresql://u:p@db/isg",
                    "ISG_WEBHOOK_KEY_VICTIM_ADVOCATES": "whsec_x",
                }
            }
        }
    )
    (secret,) = [o for o in objects if o["kind"] == "Secret"]
    assert set(secret["stringData"]) == {
        "GATEWAY_PSEUDONYM_KEY",
        "GATEWAY_DATABASE_URL",
        "ISG_WEBHOOK_KEY_VICTIM_ADVOCATES",
    }
    # Made before the migrations Job, which reads it.
    assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    for component in ("api", "relay", "migrations"):
        kind = "Job" if component == "migrations" else "Deployment"
        (container,) = _containers(one(objects, kind, component), "gateway")
        assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def _containers(obj: dict[str, Any], which: str = "all") -> list[dict[str, Any]]:
    pod = _pod(obj)
    every = pod.get("initContainers", []) + pod["containers"]
    if which == "gateway":
        return [c for c in every if not c["name"].startswith("git-sync")]
    return every


def _workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "Job")]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_container_runs_unprivileged_on_a_read_only_root(name):
    objects = manifests(VALUE_SETS[name])
    assert len(_workloads(objects)) == 3
    for workload in _workloads(objects):
        pod = _pod(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        tmp = [v for v in pod["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0]
        for container in _containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["runAsUser"] == 10001, where  # the image's user isg
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts["/tmp"] == "tmp", where
            resources = container["resources"]
            assert set(resources["requests"]) == {"cpu", "memory"}, where
            assert set(resources["limits"]) == {"cpu", "memory"}, where


def test_the_api_probes_liveness_alone_and_readiness_by_the_store(production):
    api = one(production, "Deployment", "api")
    (container,) = _containers(api, "gateway")
    assert container["args"][0] == "serve" and "--no-relay" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        timings = container[probe]
        assert timings["periodSeconds"] > 0 and timings["failureThreshold"] > 0
        assert 0 < timings["timeoutSeconds"] < timings["periodSeconds"] or probe == "startupProbe"
    startup = container["startupProbe"]
    assert (
        startup["periodSeconds"] * startup["failureThreshold"] >= 120
    )  # a slow start is not death
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    # Above the API's own shutdown: the group commit's last batch waits 30 s at most.
    assert _pod(api)["terminationGracePeriodSeconds"] > 30 + pre_stop


def test_the_relays_run_apart_with_the_clock_and_tcp_liveness(production):
    relay = one(production, "Deployment", "relay")
    (container,) = _containers(relay, "gateway")
    assert container["args"] == ["relay"]
    assert container["livenessProbe"]["tcpSocket"]["port"] == "metrics"
    assert container["startupProbe"]["tcpSocket"]["port"] == "metrics"
    assert "readinessProbe" not in container  # no Service traffic but scrapes
    assert _pod(relay)["terminationGracePeriodSeconds"] > 30
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GATEWAY_RELAY_METRICS_HOST"] == "0.0.0.0"
    assert relay["spec"]["replicas"] == 2


def test_the_migrations_run_as_a_hook_before_install_and_upgrade(production):
    job = one(production, "Job", "migrations")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    (container,) = _containers(job)
    assert container["args"] == ["db", "upgrade"]
    pod = _pod(job)
    assert pod["restartPolicy"] == "Never"
    # The operator's role migrates; the pods run as the role that may only insert audit rows.
    urls = {
        component: [e for e in c["env"] if e["name"] == "GATEWAY_DATABASE_URL"]
        for component, c in (
            ("migrations", container),
            ("api", _containers(one(production, "Deployment", "api"), "gateway")[0]),
        )
    }
    assert urls["migrations"] == [
        {
            "name": "GATEWAY_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "isg-db-superuser", "key": "uri"}},
        }
    ]
    assert urls["api"][0]["valueFrom"]["secretKeyRef"]["name"] == "isg-db-app"
    # Made before the release's other objects: it reads no ConfigMap and no account of theirs.
    assert "serviceAccountName" not in pod
    assert not [v for v in pod["volumes"] if "configMap" in v]


def test_the_gateway_accepts_the_settings_the_chart_gives_it(production, monkeypatch):
    """The environment of each container, with made-up secrets, is settings the gateway
    itself loads: no unknown GATEWAY_* variable, and Kafka's TLS and SASL hold together."""
    secrets = {
        "GATEWAY_DATABASE_URL": "postgresql://isg:pw@isg-db-rw:5432/isg",
        "GATEWAY_KAFKA_SASL_PASSWORD": "scram-password",
        "GATEWAY_PSEUDONYM_KEY": "k" * 32,
    }
    for workload in _workloads(production):
        for container in _containers(workload, "gateway"):
            for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
                monkeypatch.delenv(key)
            for entry in container["env"]:
                value = entry.get("value", secrets.get(entry["name"]))
                assert value is not None, entry
                monkeypatch.setenv(entry["name"], value)
            settings = load_settings()
            assert settings.kafka_security_protocol == "SASL_SSL"
            assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
            assert settings.kafka_ssl_ca_file == Path("/etc/isg/kafka-ca/ca.crt")
            assert "sslrootcert=%2Fetc%2Fisg%2Fpostgresql-ca%2Fca.crt" in settings.store_url
            assert settings.oidc_role_map["ISG.Auditor"] == "auditor"
            assert settings.policy_dir == Path("/etc/isg/policies/current/cheshire-hru")
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            for path in (settings.kafka_ssl_ca_file, Path(settings.database_ssl_root_cert_file)):
                if workload["kind"] == "Deployment" or "postgresql" in str(path):
                    assert str(path.parent) in mounts


def test_every_variable_the_chart_sets_is_a_setting(production):
    known = {"GATEWAY_" + n.upper() for n in Settings.model_fields}
    known |= {"GATEWAY_NOTIFY_" + n.upper() for n in NotifySettings.model_fields}
    for workload in _workloads(production):
        for container in _containers(workload, "gateway"):
            names = {e["name"] for e in container["env"]} - {"HOME"}
            assert {n for n in names if n.startswith("GATEWAY_")} <= known
            assert names - known == set()  # webhook keys come from the Secret, whole


def test_the_network_policy_allows_only_the_named_peers(production):
    values = merged(production_values())["networkPolicy"]["egress"]
    expected = {
        "api": ["dns", "kafka", "postgresql", "identityProvider", "partnerKeys", "git"],
        "relay": ["dns", "kafka", "postgresql", "identityProvider", "webhooks", "notify", "git"],
        "migrations": ["dns", "postgresql"],
    }
    policies = [o for o in production if o["kind"] == "NetworkPolicy"]
    assert len(policies) == 3
    for component, peers in expected.items():
        policy = one(production, "NetworkPolicy", component)
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
        allowed = [rule["to"] for rule in spec["egress"]]
        wanted = [values[p]["to"] for p in peers]
        if component != "migrations":
            wanted += [rule["to"] for rule in values["extra"]]
        assert allowed == wanted, component
        assert all(rule["to"] for rule in spec["egress"])  # never an empty (= any) peer
    api_ingress = one(production, "NetworkPolicy", "api")["spec"]["ingress"]
    assert api_ingress[0]["from"] and api_ingress[0]["ports"] == [
        {"port": "http", "protocol": "TCP"}
    ]
    assert one(production, "NetworkPolicy", "migrations")["spec"]["ingress"] is None


def test_disruption_budgets_and_autoscaling(production):
    api_pdb = one(production, "PodDisruptionBudget", "api")
    assert api_pdb["spec"]["minAvailable"] == 2
    assert api_pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert one(production, "PodDisruptionBudget", "relay")["spec"]["minAvailable"] == 1
    hpa = one(production, "HorizontalPodAutoscaler", "api")
    api = one(production, "Deployment", "api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == api["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 8)
    assert "replicas" not in api["spec"]  # the autoscaler owns it


def test_the_ingress_terminates_tls_and_asks_partners_for_certificates(production):
    ingress = one(production, "Ingress", "api")
    assert ingress["spec"]["tls"] == [
        {"hosts": ["isg.cheshire.police.example.org"], "secretName": "isg-gateway-tls"}
    ]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-tls-verify-client"] == "on"
    assert annotations["nginx.ingress.kubernetes.io/auth-tls-secret"] == "isg/isg-partnership-ca"
    service = one(production, "Service", "api")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]


def test_the_kafka_topics_are_the_gateways_layout(production):
    topics = [o for o in production if o["kind"] == "KafkaTopic"]
    recipients = production_values()["kafkaTopics"]["recipients"]
    assert sorted(t["spec"]["topicName"] for t in topics) == sorted(
        [recipient_topic("isg", r) for r in recipients]
        + [urgent_topic("isg", r) for r in recipients]
    )
    for topic in topics:
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "isg-kafka"
        assert topic["metadata"]["namespace"] == "kafka"
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == "2"


def test_service_monitors_scrape_the_api_and_the_relays(production):
    for component, port in (("api", "http"), ("relay", "metrics")):
        monitor = one(production, "ServiceMonitor", component)
        assert monitor["spec"]["endpoints"][0]["port"] == port
        service = one(production, "Service", component)
        assert {p["name"] for p in service["spec"]["ports"]} == {port}


def test_names_fit_in_63_characters_and_carry_the_standard_labels():
    release = "a-release-name-as-long-as-helm-allows-it-fifty-three"
    assert len(release) <= 53
    objects = manifests(production_values(), release=release)
    for obj in objects:
        metadata = obj["metadata"]
        assert len(metadata["name"]) <= 63, metadata["name"]
        labels = metadata["labels"]
        for key in ("name", "instance", "version", "managed-by", "part-of"):
            assert labels[f"app.kubernetes.io/{key}"], (metadata["name"], key)
        assert all(len(str(v)) <= 63 for v in labels.values())
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names))  # the cut never makes two the same


def test_the_default_values_render_with_warnings_in_the_notes(default):
    notes = render({})["isg-gateway/templates/NOTES.txt"]
    assert "no secrets are configured" in notes
    assert "policies.files is empty" in notes
    assert not [o for o in default if o["kind"] == "NetworkPolicy"]
    assert production_values()["networkPolicy"]["enabled"] is True
    production_notes = render(production_values())["isg-gateway/templates/NOTES.txt"]
    assert "WARNING" not in production_notes


def test_a_policy_directory_mounts_back_as_the_bundle_it_was(tmp_path):
    """scripts/policy_values.py's values, through the ConfigMap and its items, rebuild the
    directory; the gateway loads it as the bundle in force, its routes beside it."""
    source = ROOT / "policies" / "cheshire-hru"
    values = script("policy_values").policy_values(source)
    objects = manifests(values)
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
    api = one(objects, "Deployment", "api")
    (volume,) = [v for v in _pod(api)["volumes"] if v["name"] == "policies"]
    mounted = tmp_path / "policies"
    for item in volume["configMap"]["items"]:
        target = mounted / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_map["data"][item["key"]])
    originals = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    assert {p.relative_to(mounted) for p in mounted.rglob("*") if p.is_file()} == originals
    for relative in originals:
        assert (mounted / relative).read_text() == (source / relative).read_text()
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "gateway"), "policy", "test", str(mounted)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
