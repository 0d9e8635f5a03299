"""``GET /metrics`` in the Prometheus text format.

Queue and conversation gauges are read from the database at scrape time, so they are right
whatever the number of web and worker processes; request counters and latencies are per
process (scrape each web process, or read them as samples).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from service.extensions import db
from service.models import Cartera, Conversation, InboxMessage, OutboundMessage
from service.observability import request_started

# Label values come from fixed sets, so no client can grow the series (one per method, rule
# of app.url_map and status): any other method is "other", a path no rule matched "unmatched".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


# The counter's and the histogram's series of a (method, rule, status), looked up once:
# prometheus_client's ``labels`` takes a lock and checks the label values on every call, and
# answers the same child for the same values as long as the metric is not cleared
# (prometheus_client/metrics.py, MetricWrapperBase.labels; these two never are). Keyed as
# the labels are bounded: every method outside METHODS is one key.
_Series = tuple[Counter, Histogram]
COUNT_REQUEST = "carteras.count_request"  # app.extensions: ``count`` below


def init_metrics(app: Flask) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "carteras_http_requests",
        "HTTP requests answered",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "carteras_http_request_seconds",
        "Time to answer",
        ["route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )
    inbox = Gauge(
        "carteras_inbox_messages", "Inbound messages by state", ["status"], registry=registry
    )
    outbox = Gauge(
        "carteras_outbound_messages", "Replies to customers by state", ["status"], registry=registry
    )
    open_conversations = Gauge(
        "carteras_open_conversations",
        "Open conversations by target",
        ["routed_to"],
        registry=registry,
    )
    active = Gauge("carteras_active_carteras", "Active carteras", registry=registry)

    found: dict[tuple[str | bool, str | None, int], _Series] = {}

    def count(method: str, route: str | None, status: int, started: float | None) -> None:
        """Count a request answered with *status* and time it from *started*
        (``time.perf_counter``): by the after-request hook below and by the webhooks'
        lane (webhooks/lane.py), which answers without Flask's hooks."""
        key = (method in METHODS and method, route, status)
        series = found.get(key)
        if series is None:
            series = found.setdefault(
                key,
                (
                    requests.labels(
                        method if method in METHODS else "other", route or UNMATCHED, str(status)
                    ),
                    latency.labels(route or UNMATCHED),
                ),
            )
        series[0].inc()
        if started is not None:
            series[1].observe(time.perf_counter() - started)

    app.extensions[COUNT_REQUEST] = count

    @app.after_request
    def _count(response: Response) -> Response:
        # Timed from the request's start (observability's first before-request hook).
        req = request._get_current_object()  # type: ignore[attr-defined]
        rule = req.url_rule
        count(req.method, rule and rule.rule, response.status_code, request_started())
        return response

    def gauge(metric: Gauge, column: Any, model: Any, *where: Any) -> None:
        metric.clear()
        rows = db.session.execute(
            select(column, func.count()).select_from(model).where(*where).group_by(column)
        )
        for label, number in rows:
            metric.labels(str(label)).set(number)

    @app.get("/metrics")
    def metrics() -> Response:
        gauge(inbox, InboxMessage.status, InboxMessage)
        gauge(outbox, OutboundMessage.status, OutboundMessage)
        gauge(
            open_conversations, Conversation.routed_to, Conversation, Conversation.status == "open"
        )
        active.set(
            db.session.scalar(select(func.count(Cartera.id)).where(Cartera.active.is_(True))) or 0
        )
        db.session.rollback()
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
