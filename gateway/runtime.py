"""Wiring: store, broker, policy, relay and pipeline, started and stopped together.

On the embedded default (nothing configured) this creates the data directory,
migrates the SQLite store and starts the broker as a child process. With an
external store and broker configured it starts nothing and refuses to run on
a store whose migrations are behind (``gateway db upgrade`` first).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from adapters import AdapterRegistry, load_registry
from gateway.alerts.escalator import keep_escalating
from gateway.alerts.people import routed_steps, tell_the_next_desk
from gateway.audit.checkpoints import keep_checkpointing, keys_from_settings
from gateway.audit.signing import AuditKeys
from gateway.delivery.channels import KafkaChannel, WebhookChannel
from gateway.delivery.kafka_config import KafkaConnection, kafka_connection
from gateway.delivery.partners import PartnersConfig, load_partners
from gateway.delivery.relay import PEEK_SECONDS, Channel, Relay
from gateway.delivery.topics import recipient_topic, urgent_topic
from gateway.embedded.broker import EmbeddedBroker, broker_answers
from gateway.embedded.data_dir import (
    create_private_file,
    make_private,
    make_private_dir,
    pseudonym_key,
    write_private_text,
)
from gateway.errors import StoreBehind
from gateway.gc_tuning import tune_for_serving
from gateway.identity.service import token_service
from gateway.identity.tokens import TokenService
from gateway.linking.custody import custodian_key
from gateway.linking.index import keep_indexing
from gateway.notify import Notifier
from gateway.notify.config import load_notify_settings
from gateway.pipeline import Pipeline
from gateway.policy import LivePolicy, PolicyBundle
from gateway.policy.live import PolicyChange
from gateway.routing import Routes
from gateway.routing.live import RoutesBeside
from gateway.settings import RetentionPolicy, Settings
from gateway.store import Store, audit_log
from gateway.store.audit_log import use_sealer
from gateway.store.group_commit import GroupCommitter
from gateway.store.retention import keep_erasing, with_agreement
from gateway.telemetry.tracing import SERVICE, install_tracing
from gateway.telemetry.tracing import flush as flush_traces

log = logging.getLogger(__name__)
RUNTIME_FILE = "runtime.json"
#: The service name of a relay-only process's spans (``OTEL_SERVICE_NAME`` overrides).
RELAY_SERVICE = f"{SERVICE}-relay"


@dataclass
class Runtime:
    """One gateway process.

    ``run_relay=False`` makes an API-only process (several can run side by
    side, e.g. ``serve --workers``); the outbox is then delivered by a
    separate ``gateway relay`` process, or by the ``serve`` parent. Relay
    workers coordinate through the store, so any number can run.
    ``run_api=False`` makes a relay-only process: no pipeline, no group
    committer.
    """

    settings: Settings
    run_relay: bool = True
    run_api: bool = True
    registry: AdapterRegistry = field(default_factory=load_registry)
    store: Store = field(init=False)
    broker: EmbeddedBroker | None = field(init=False, default=None)
    bootstrap: str = field(init=False, default="")
    #: How every Kafka client of this process connects (TLS and SASL as configured).
    kafka: KafkaConnection = field(init=False)
    relay: Relay = field(init=False)
    partners: PartnersConfig = field(init=False)
    pipeline: Pipeline = field(init=False)
    policy: LivePolicy = field(init=False)
    #: Issues partner systems' access tokens and checks every one presented.
    tokens: TokenService = field(init=False)
    #: The audit trail's keys: entries appended here are sealed with the current one,
    #: which signs checkpoints; the public ones are published (GET /v1/audit/keys).
    audit_keys: AuditKeys = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    #: When the broker was last asked (monotonic seconds) and whether it answered.
    _broker_seen: tuple[float, bool] = field(init=False, default=(float("-inf"), False))

    @property
    def routes(self) -> Routes:
        """The routing rules in force (which desk receives an alert, and the
        escalation chain), taken up with the policy they were tested against."""
        routes: Routes = self.policy.beside
        return routes

    def retention(self) -> RetentionPolicy:
        """The retention periods in force: the settings', and the agreement's for
        received records (it changes with the policy)."""
        periods = self.bundle.retention
        return with_agreement(self.settings.retention, periods.exchanges if periods else None)

    def current_routes(self) -> Routes:
        """The routes in force, for code that keeps a getter and asks each time."""
        return self.routes

    def start(self) -> Runtime:
        settings = self.settings
        settings.require_production_secrets()
        make_private_dir(settings.data_dir)
        # Who at each party receives an alert, and who next: beside the policies,
        # reloaded with them.
        self.policy = LivePolicy(
            settings.policy_dir, companion=RoutesBeside(settings.policy_dir / "routes")
        )
        self.partners = load_partners(settings.partners_file)
        # Looked up now: an unknown format fails the start, not a delivery.
        renderers = {r: self.registry.get(f) for r, f in self.partners.formats().items()}
        for recipient in renderers:
            if recipient not in self.bundle.parties:
                log.warning("partners file names %s, not a party to the agreement", recipient)
        # From the standard OTEL_* variables (gateway.telemetry.tracing); once a process.
        install_tracing(settings.trace_sample_ratio, SERVICE if self.run_api else RELAY_SERVICE)
        self.store = Store.from_url(settings.store_url, busy_seconds=settings.store_busy_seconds)
        self.policy.on_change = self._audit_policy_change
        self.audit_keys = keys_from_settings(settings)
        current = self.audit_keys.current
        use_sealer(current.seal if current is not None else None, self.store.engine)
        if settings.database_url is None:
            # Made 0600 before SQLite makes it 0644 (its -wal and -shm files take its mode).
            create_private_file(Path(settings.store_url.removeprefix("sqlite:///")))
            self.store.upgrade()
        elif (revision := self.store.revision()) != (head := self.store.head_revision()):
            raise StoreBehind(
                f"the store is at migration {revision}, the gateway needs {head}: "
                "run `gateway db upgrade`"
            )
        if self.run_api:
            self.tokens = token_service(settings, self.bundle, self.store)
        if settings.kafka_bootstrap is None:
            self.broker = EmbeddedBroker(log_dir=settings.data_dir).start()
            self.bootstrap = self.broker.bootstrap
        else:
            self.bootstrap = settings.kafka_bootstrap
        self.kafka = kafka_connection(settings, self.bootstrap)
        webhooks = self.partners.webhooks()
        channels: list[Channel] = [KafkaChannel(self.kafka)]
        if webhooks:
            channels.append(WebhookChannel(webhooks))
        self.relay = Relay(
            self.store,
            channels,
            workers=settings.relay_workers,
            poll_seconds=settings.relay_poll_seconds,
            bootstrap=self.kafka,
            topics=self.topics,
            # With the API in this process its commits wake the relay. A relay alone
            # (``serve --workers``' parent, ``gateway relay``) peeks for the rows
            # other processes commit; here that would only cost an idle gateway CPU.
            peek_seconds=settings.relay_poll_seconds if self.run_api else PEEK_SECONDS,
            # What is re-fed must still be kept: the window is the outbox's retention.
            refeed_window=settings.retention.sent_copies,
        )
        # Creates missing topics; a broker that came back empty is re-fed from the store.
        self.relay.refeed_if_broker_lost_data()
        if self.run_relay:
            for warning in self.store.queue_table_warnings():
                log.warning("%s", warning)
            self.relay.start()
            notifier = Notifier.from_settings(load_notify_settings())
            threading.Thread(
                target=keep_escalating,
                args=(
                    self.store,
                    self._stop,
                    settings.escalation_check_seconds,
                    partial(tell_the_next_desk, self.store, self.current_routes, notifier),
                ),
                name="escalation",
                daemon=True,
            ).start()
            threading.Thread(
                target=keep_erasing,
                args=(
                    self.store,
                    self.retention,
                    self._stop,
                    settings.retention_check_seconds,
                ),
                name="retention",
                daemon=True,
            ).start()
            linking = custodian_key(settings)
            if linking:  # the custodian's index kept up to date as records arrive
                threading.Thread(
                    target=keep_indexing,
                    args=(self.store, linking, self._stop),
                    name="linking-index",
                    daemon=True,
                ).start()
            threading.Thread(
                target=keep_checkpointing,
                args=(self.store, self.audit_keys, self._stop, settings.audit_checkpoint_seconds),
                name="audit-checkpoints",
                daemon=True,
            ).start()
        # Changed policy files take effect only when they lint and their tests pass.
        threading.Thread(
            target=self.policy.watch,
            args=(self._stop, settings.policy_check_seconds),
            name="policy-watch",
            daemon=True,
        ).start()
        if self.run_api:
            self.pipeline = Pipeline(
                registry=self.registry,
                store=self.store,
                policy=self.policy,
                topic_prefix=settings.topic_prefix,
                pseudonym_key=settings.pseudonym_key_bytes() or pseudonym_key(settings.data_dir),
                webhooks=frozenset(webhooks),
                renderers=renderers,
                on_commit=self.relay.nudge,
                committer=GroupCommitter(self.store),
                steps_for=routed_steps(self.current_routes),
                linking_key=custodian_key(settings) or b"",
            )
        if self.broker is not None:
            self._write_runtime_file()
        make_private(settings.data_dir)  # whatever made a file there since the last start
        tune_for_serving()
        return self

    def _audit_policy_change(self, change: PolicyChange) -> None:
        """A reloaded policy takes effect only once the audit trail records it."""
        with self.store.transaction() as conn:
            audit_log.append(conn, [change.audit_entry()])

    @property
    def runtime_file(self) -> Path:
        return self.settings.data_dir / RUNTIME_FILE

    def _write_runtime_file(self) -> None:
        """Tell local tools (``gateway messages``) where this gateway's broker is."""
        info = {
            "pid": os.getpid(),
            "kafka_bootstrap": self.bootstrap,
            "topic_prefix": self.settings.topic_prefix,
            "policy_version": self.bundle.version,
        }
        write_private_text(self.runtime_file, json.dumps(info, indent=2) + "\n")

    def topics(self) -> list[str]:
        prefix = self.settings.topic_prefix
        parties = self.bundle.parties
        return [recipient_topic(prefix, p) for p in parties] + [
            urgent_topic(prefix, p) for p in parties
        ]

    @property
    def bundle(self) -> PolicyBundle:
        """The policy bundle in force now (it changes when edited files pass lint and tests)."""
        return self.policy.current

    def readiness(self) -> dict[str, object]:
        """Ready means "can accept and keep records": the store answers. A broker
        outage only degrades the gateway (what it accepts waits in the outbox, and
        the relay delivers it when the broker is back), so it keeps its place in the
        load balancer; the detail and the metric ``isg_broker_available`` show it."""
        store_ok = self.store.ping()
        broker_ok = self.broker_available(max_age=0.0)
        status = "degraded" if store_ok and not broker_ok else "ready" if store_ok else "not-ready"
        return {
            "ready": store_ok,
            "status": status,
            "checks": {
                "store": "ok" if store_ok else "unavailable",
                "broker": "ok" if broker_ok else "unavailable",
            },
            "policy": self.policy.status(),
        }

    def broker_available(self, max_age: float = 5.0) -> bool:
        """Whether the broker answered a metadata request; an answer younger than
        ``max_age`` seconds is reused (a metrics scrape need not wait on the broker)."""
        now = time.monotonic()
        checked_at, answered = self._broker_seen
        if now - checked_at > max_age:
            answered = broker_answers(self.kafka, timeout=1.0)
            self._broker_seen = (time.monotonic(), answered)
        return answered

    def broker_up(self) -> bool:
        """Whether the broker answers, for the metrics: as readiness last saw it when
        that was moments ago (a scrape need not ask the broker, nor ping the store)."""
        return self.broker_available()

    def stop(self) -> None:
        """Idempotent: the API's shutdown and the CLI's ``finally`` may both call it."""
        if self._stop.is_set():
            return
        self._stop.set()
        pipeline = getattr(self, "pipeline", None)
        if pipeline is not None and pipeline.committer is not None:
            pipeline.committer.stop()
        relay = getattr(self, "relay", None)
        if relay is not None:
            relay.stop()
        if self.broker is not None:
            self.broker.stop()
            self.runtime_file.unlink(missing_ok=True)
        store = getattr(self, "store", None)
        if store is not None:
            store.engine.dispose()
        flush_traces()  # the spans of the last deliveries, before the process exits
