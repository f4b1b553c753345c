// One decision-set version: the live timeline over SSE, the gates, the panels and the diff.
// Opening an old version replays its events (time travel); a live one keeps streaming.

import {api} from "./api.js";
import {badge, debounce, h, label, replace, usd, when} from "./dom.js";
import {renderDiagram, renderDiff} from "./diff.js";
import {
  approvalGate, budgetGate, constraintsList, costPanel, finalNotice, intakeGate, policyPanel, risksList, staleGate,
  whatHappened,
} from "./panels.js";
import {EVENT_TYPES, FINAL, stageName, Timeline} from "./timeline.js";


export class DecisionSetView {
  constructor(root, id, ctx) {
    this.root = root;
    this.id = id;
    this.ctx = ctx;
    this.ds = null;
    this.project = null;
    this.source = null;
    this.destroyed = false;
    this.gateKey = null;
    this.planKey = null;
    this.diffKey = null;
    this.reqKey = null;
    this.lastStatus = null;
    this.gateEvent = null;
    this.stale = false;
    this.complete = null;
    this.refresh = debounce(() => this.reload(), 250);
    this.updateHappened = debounce(() => this.renderHappened(), 120);
  }

  destroy() {
    this.destroyed = true;
    this.refresh.cancel();
    this.updateHappened.cancel();
    if (this.source) this.source.close();
    this.source = null;
    clearTimeout(this.retryTimer);
  }

  async start() {
    replace(this.root, h("p", {class: "muted"}, "Loading…"));
    try {
      this.ds = await api.decisionSet(this.id);
    } catch (e) {
      replace(this.root, h("section", {class: "card"}, h("h1", null, "Version not found"),
        h("p", {class: "error"}, e.message), h("p", null, h("a", {href: "#/"}, "Start page"))));
      return;
    }
    if (this.destroyed) return;
    this.initialStatus = this.ds.status;
    this.skeleton();
    this.project = await this.ctx.refreshProject(this.ds.project_id);
    if (this.destroyed) return;
    this.render();
    this.openStream();
  }

  skeleton() {
    this.el = {
      header: h("header", {class: "ds-header", id: "ds-header"}),
      gate: h("div", {id: "gate-area", class: "gate-area", "aria-live": "polite"}),
      happened: h("div", {class: "happened-body"}),
      timeline: h("ol", {class: "timeline", id: "timeline", "aria-label": "Agent runs"}),
      streamState: h("span", {class: "stream-state", id: "stream-state", role: "status", "aria-live": "polite",
        dataset: {state: "connecting"}}, "connecting…"),
      policy: h("div", {id: "policy-panel"}),
      cost: h("div", {id: "cost-panel"}),
      diagram: h("div", {id: "diagram-panel"}),
      risks: h("div", {id: "risks-panel"}),
      diff: h("div", {id: "diff-panel"}),
      requirements: h("div", {id: "requirements-panel"}),
    };
    this.timeline = new Timeline(this.el.timeline);
    const e = this.el;
    replace(this.root,
      e.header,
      e.gate,
      h("section", {class: "card happened", id: "what-happened", "aria-labelledby": "happened-heading"},
        h("h2", {id: "happened-heading"}, "What just happened?"), e.happened),
      h("div", {class: "grid"},
        h("section", {class: "card timeline-card", "aria-labelledby": "timeline-heading"},
          h("div", {class: "card-head"}, h("h2", {id: "timeline-heading"}, "Timeline"), e.streamState),
          e.timeline),
        h("div", {class: "side"},
          h("section", {class: "card", id: "policy-section", "aria-labelledby": "policy-heading"},
            h("h2", {id: "policy-heading"}, "Policy"), e.policy),
          h("section", {class: "card", id: "cost-section", "aria-labelledby": "cost-heading"},
            h("h2", {id: "cost-heading"}, "Cost"), e.cost))),
      h("section", {class: "card", id: "plan-section", "aria-labelledby": "plan-heading"},
        h("h2", {id: "plan-heading"}, "Architecture"), e.diagram,
        h("h3", null, "Risks"), e.risks),
      h("section", {class: "card", id: "diff-section", "aria-labelledby": "diff-heading"},
        h("h2", {id: "diff-heading"}, "Changes"), e.diff),
      h("section", {class: "card", id: "requirements-section", "aria-labelledby": "req-heading"},
        h("h2", {id: "req-heading"}, "Requirements and constraints"), e.requirements));
    this.renderHappened();
  }

  versions() {
    return (this.project && this.project.id === this.ds.project_id && this.project.decision_sets) || [];
  }

  previousCost() {
    const parent = this.versions().find((v) => v.id === this.ds.parent_id);
    return parent ? parent.monthly_usd : null;
  }

  render() {
    const ds = this.ds;
    const e = this.el;
    const parent = this.versions().find((v) => v.id === ds.parent_id);
    const newer = this.versions().filter((v) => v.version > ds.version).sort((a, b) => a.version - b.version)[0];
    replace(e.header,
      h("div", {class: "crumbs"},
        this.project ? h("a", {href: `#/projects/${ds.project_id}`}, this.project.name) : null),
      h("h1", null, `Version ${ds.version} `, badge(label(ds.status), `status-${ds.status}`)),
      h("p", {class: "muted", id: "ds-stage"},
        `Stage: ${stageName(ds.stage)} · created ${when(ds.created_at)}` +
        (ds.cost?.monthly_usd != null ? ` · ${usd(ds.cost.monthly_usd)}/month` : "")),
      h("nav", {class: "actions", "aria-label": "Versions"},
        parent ? h("a", {class: "button", href: `#/ds/${parent.id}`}, `← Version ${parent.version}`) : null,
        newer ? h("a", {class: "button", href: `#/ds/${newer.id}`}, `Version ${newer.version} →`) : null,
        h("button", {type: "button", onclick: () => this.newVersion()}, "New version from these requirements")));
    this.renderGate();
    replace(e.policy, ...policyPanel(ds.policy, ds.approval));
    replace(e.cost, ...costPanel(ds.cost, this.previousCost()));
    replace(e.risks, ...risksList(ds.risks));
    const planKey = JSON.stringify(ds.plan || null);
    if (planKey !== this.planKey) {
      this.planKey = planKey;
      renderDiagram(e.diagram, ds.plan);
    }
    const diffKey = `${ds.git_commit}|${this.versions().length}`;
    if (diffKey !== this.diffKey) {
      this.diffKey = diffKey;
      renderDiff(e.diff, ds, this.versions());
    }
    const reqKey = JSON.stringify([ds.requirements, ds.constraints, ds.assumptions]);
    if (reqKey !== this.reqKey) {
      this.reqKey = reqKey;
      replace(e.requirements, ...constraintsList(ds));
    }
  }

  renderGate() {
    const ds = this.ds;
    const gate = {...(ds.gate || {}), ...(this.gateEvent || {})};
    const status = this.stale && !FINAL.has(ds.status) ? "stale" : ds.status;
    const key = `${status}|${gate.gate || ""}|${gate.interrupt_id || ""}|${ds.links?.artifact || ""}`;
    if (key === this.gateKey) return;
    this.gateKey = key;
    const area = this.el.gate;
    if (status === "waiting_intake") {
      replace(area, intakeGate(ds, gate, () => this.refresh()));
    } else if (status === "waiting_approval") {
      replace(area, approvalGate(ds, gate, () => this.refresh()));
    } else if (status === "paused_budget") {
      replace(area, budgetGate(ds, gate, () => this.refresh()));
    } else if (status === "stale") {
      replace(area, staleGate(ds, () => this.newVersion()));
    } else if (FINAL.has(status)) {
      replace(area, finalNotice(ds, this.complete));
    } else {
      replace(area, h("p", {class: "working", role: "status"}, h("span", {class: "spinner", "aria-hidden": "true"}),
        `Agents at work: ${stageName(ds.stage)}…`));
    }
  }

  renderHappened() {
    if (!this.el) return;
    replace(this.el.happened, ...whatHappened(this.timeline.events, this.ds));
  }

  newVersion() {
    sessionStorage.setItem("amp.prefill", this.ds.requirements || "");
    this.ctx.navigate(`#/projects/${this.ds.project_id}`);
  }

  async reload() {
    if (this.destroyed) return;
    try {
      const ds = await api.decisionSet(this.id);
      if (this.destroyed) return;
      this.ds = ds;
      if (ds.status !== this.lastStatus) {
        this.lastStatus = ds.status;
        this.project = await this.ctx.refreshProject(ds.project_id);
        if (this.destroyed) return;
      }
      this.render();
      this.renderHappened();
    } catch (e) {
      this.ctx.banner(`Refresh failed: ${e.message}`, "error");
    }
  }

  /** The stream's state next to the timeline: connecting, live, reconnecting or finished. */
  streamStatus(state, text, kind) {
    const el = this.el.streamState;
    el.textContent = text;
    el.className = `stream-state ${kind || ""}`.trim();
    el.dataset.state = state;
    el.title = state === "reconnecting"
      ? `The live stream dropped; it resumes after event ${this.timeline.lastId}, nothing shown twice.` : "";
  }

  openStream() {
    const source = new EventSource(api.streamUrl(this.id, this.timeline.lastId));
    this.source = source;
    source.addEventListener("open", () => {
      if (this.source !== source) return;
      this.retries = 0;
      if (!this.complete) this.streamStatus("live", "live", "live");
    });
    source.addEventListener("error", () => {
      if (this.destroyed || this.source !== source || this.complete) return;
      if (source.readyState === EventSource.CLOSED) {
        // the browser gave up (an HTTP error, a gateway that was away): open it again for as long as the
        // run lives, resuming after the last event shown (the server skips what the timeline has)
        source.close();
        this.source = null;
        const delay = Math.min(10, 2 ** Math.min(this.retries || 0, 4));
        this.retries = (this.retries || 0) + 1;
        this.streamStatus("reconnecting", `reconnecting… (again in ${delay} s)`, "warn");
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => { if (!this.destroyed && !this.complete) this.openStream(); }, delay * 1000);
      } else {
        // the browser reconnects by itself, sending Last-Event-ID
        this.streamStatus("reconnecting", "reconnecting…", "warn");
      }
    });
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (msg) => this.onEvent(type, msg));
    }
  }

  onEvent(type, msg) {
    if (this.destroyed) return;
    let data;
    try {
      data = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (!this.timeline.add(type, data, msg.lastEventId)) return; // already shown
    if (type === "gate-waiting") this.gateEvent = data;
    if (type === "gate-stale") this.stale = true;
    if (type === "reason-card" || type === "cost-update" || type === "policy-update" || type === "diff-update" ||
        type === "run-error") this.updateHappened();
    if (type === "run-complete") {
      this.complete = data;
      if (this.source) this.source.close();
      this.source = null;
      this.streamStatus("finished", "finished", "done");
      // follow a newer version only when this one was superseded while watching (not when replaying history)
      if (data.status === "superseded" && data.next_decision_set_id && !FINAL.has(this.initialStatus)) {
        this.reload().then(() => {
          if (!this.destroyed) {
            this.ctx.navigate(`#/ds/${data.next_decision_set_id}`,
              `Version ${data.version} was superseded by your review; now following the new version.`);
          }
        });
        return;
      }
    }
    if (type !== "reason-card") this.refresh();
  }
}
