import json, time
import pytest

pytestmark = pytest.mark.integration

TEXT = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
        "99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. Retrain weekly.")


def test_explore(client):
    for text in (TEXT, "Churn prediction batch scoring nightly, budget $2,000 per month."):
        pid = client.create_project("explore")["id"]
        ds = client.submit(pid, text)["decision_set_id"]
        print("DS", ds)
        t0 = time.time()
        for ev, data, eid in client.stream(ds, timeout=120):
            print(round(time.time() - t0, 2), ev, eid, json.dumps(data)[:600])
            if ev == "gate-waiting" and data.get("gate") == "intake":
                ans = {q["field"]: (q.get("default") or (q.get("options") or ["x"])[0]) for q in data["questions"]}
                print("ANSWER", ans)
                client.answer(ds, ans, interrupt_id=data.get("interrupt_id"))
            elif ev == "gate-waiting":
                client.approve(ds, "approved", "ok", [])
        print(json.dumps(client.decision_set(ds), default=str)[:3000])
