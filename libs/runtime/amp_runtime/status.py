"""What an operator asks first: is every service there, is work piling up, is anything stuck.

Read from the bus and the database, not from the services themselves: a service is serving when
one of its replicas holds a pull request open on (or is working a message of) each of its durable
consumers. `GET /status` on the gateway and `amp status` show this.
"""

from __future__ import annotations

from typing import Any

from amp_contracts import AGENTS, CONSUMES

from . import metrics, store

#: Durable consumers outside the pipeline table: the webhooks service's one on the event subjects.
EXTRA_DURABLES: dict[str, tuple[str, ...]] = {"webhooks": ("webhooks-events",)}


def durables() -> dict[str, tuple[str, ...]]:
    """Each bus-reading service and the names of its durable consumers (what `agent.durable_name` gives)."""
    out = {service: tuple(f"{service}-{subject.replace('.', '-')}" for subject in CONSUMES[service])
           for service in AGENTS}
    out.update(EXTRA_DURABLES)
    return out


async def platform_status(pool: Any, js: Any, stream: str) -> dict[str, Any]:
    """Health of each service, consumer lag per durable, dead letters per service (not yet replayed), the
    oldest waiting gate.

    Also refreshes the matching gauges, so a gateway's `/metrics` carries the platform-wide view.
    """
    wanted = durables()
    consumers = await metrics.refresh_bus_gauges(js, stream, [d for ds in wanted.values() for d in ds])
    dlq = await store.dead_letter_counts(pool)
    metrics.set_dead_letters(dlq, list(wanted))
    gates = await store.waiting_gates(pool)
    metrics.GATE_OLDEST.set((gates["oldest"] or {}).get("waiting_s") or 0)
    metrics.GATES_REMINDED.set(gates["reminded"])
    services: dict[str, Any] = {}
    for service, names in wanted.items():
        states = {d: consumers.get(d) for d in names}
        if any(s is None for s in states.values()):
            health = "absent"  # a consumer was never created: the service has not started yet
        elif all(s["waiting"] > 0 or s["ack_pending"] > 0 for s in states.values() if s is not None):
            health = "serving"
        else:
            health = "not serving"  # no replica is pulling from one of its consumers
        services[service] = {"health": health, "dead_letters": dlq.get(service, 0),
                             "consumers": [{"durable": d, **(s or {})} for d, s in states.items()]}
    ok = all(s["health"] == "serving" for s in services.values())
    return {"status": "ok" if ok else "degraded", "services": services,
            "lag": sum(c.get("pending", 0) for s in services.values() for c in s["consumers"]),
            "dead_letters": sum(dlq.values()), "gates": gates}
