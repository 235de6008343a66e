"""The service's Prometheus metrics, in a registry of its own (one per service: tests start several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    """Counters for deliveries (received, stored, duplicates, refused by reason, processed) and gauges for the lag."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter("smcase_deliveries_received", "Webhook deliveries received (any outcome)",
                                ["platform"], registry=r)
        self.stored = Counter("smcase_deliveries_stored", "Deliveries committed to the spool and acknowledged",
                              ["platform"], registry=r)
        self.duplicates = Counter("smcase_deliveries_duplicate", "Retries of a delivery already stored (acknowledged)",
                                  ["platform"], registry=r)
        self.refused = Counter("smcase_deliveries_refused", "Deliveries refused, by reason", ["platform", "reason"],
                               registry=r)
        self.processed = Counter("smcase_deliveries_processed", "Deliveries processed into the register",
                                 ["platform"], registry=r)
        self.events_stored = Counter("smcase_events_stored", "Events the worker stored in the register", registry=r)
        self.unmatched = Counter("smcase_deliveries_unmatched_page",
                                 "Changes for a page that no channel captures (stored, flagged)", registry=r)
        self.worker_errors = Counter("smcase_worker_errors", "Processing passes that failed (retried)", registry=r)
        self.polls = Counter("smcase_polls", "Polls of a platform account, by outcome", ["platform", "outcome"],
                             registry=r)
        self.backlog = Gauge("smcase_deliveries_pending", "Deliveries stored and not yet processed", registry=r)
        self.lag = Gauge("smcase_processing_lag_seconds", "Age of the oldest delivery not yet processed", registry=r)

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)
