// The live timeline of agent runs: one entry per event, de-duplicated by event id, with
// expandable Reason Cards whose details are rendered only when first opened.

import {badge, h, label, LABELS, pattern, pct, render, show, signedUsd, time, usd} from "./dom.js";

/** Node → label, the stream's event types and the final statuses, from the gateway's pipeline table
 * (`GET /pipeline`), loaded once at start. */
export const STAGE_NAMES = {};
export const EVENT_TYPES = [];
export const FINAL = new Set();

export function usePipeline(pipeline) {
  for (const node of pipeline.nodes || []) STAGE_NAMES[node.name] = node.label;
  EVENT_TYPES.splice(0, EVENT_TYPES.length, ...(pipeline.event_types || []));
  for (const s of pipeline.statuses || []) if (s.terminal) FINAL.add(s.status);
  Object.assign(LABELS, pipeline.labels || {});
}

export function stageName(node) {
  return STAGE_NAMES[node] || label(node || "run");
}

export const TRIGGERS = {
  constraints_updated: "requirements given", user_answer: "your answers", user_approve: "your review",
  regen: "regeneration", critic_feedback: "critic feedback",
};

/** One line describing a non-card event. */
export function describe(type, data) {
  switch (type) {
    case "intake-update": {
      const cov = data.coverage || {};
      return `Coverage ${pct(cov.score)} (needs ${pct(cov.threshold)})` +
        ((cov.missing || []).length ? `; missing ${(cov.missing || []).map(label).join(", ")}` : "");
    }
    case "plan-update":
      return `Plan: ${(data.components || data.plan?.components || []).length} components`;
    case "cost-update":
      return `Cost ${usd(data.monthly_usd)}/month` +
        (data.low_usd != null ? ` (${usd(data.low_usd)}–${usd(data.high_usd)})` : "") +
        (data.delta_vs_prev_usd != null ? `, ${signedUsd(data.delta_vs_prev_usd)} vs previous` : "");
    case "policy-update": {
      const rules = data.rules || [];
      const failed = rules.filter((r) => r.status === "fail").length;
      const warned = rules.filter((r) => r.status === "warn").length;
      return `Policy ${data.overall}: ${rules.length} rules, ${failed} failed, ${warned} warnings`;
    }
    case "diff-update":
      return `Repository: +${data.files_added || 0} −${data.files_removed || 0} ~${data.files_modified || 0} files` +
        (data.git_commit ? ` (commit ${String(data.git_commit).slice(0, 10)})` : "");
    case "gate-waiting":
      return data.gate === "intake"
        ? `Waiting for your answers (${(data.questions || []).length} question${(data.questions || []).length === 1 ? "" : "s"})`
        : "Waiting for your approval";
    case "gate-reminder":
      return "Reminder: the gate is still waiting for you";
    case "gate-stale":
      return "The gate expired: this version is stale";
    case "status-change":
      return `Status: ${label(data.from || "")} → ${data.label || label(data.to || "")}`;
    case "run-error":
      return `Error${data.code ? ` (${data.code})` : ""}: ${data.message || "unknown"}`;
    case "run-complete":
      return `Version ${data.version} ${data.status}` +
        (data.status === "superseded" && data.next_decision_set_id ? ": a new version follows" : "");
    default:
      return type;
  }
}

const KIND = {
  "run-error": "fail", "run-complete": "ok", "gate-waiting": "warn", "gate-stale": "fail", "gate-reminder": "warn",
};

export class Timeline {
  constructor(list) {
    this.list = list;
    this.seen = new Set();
    this.events = [];
    this.lastId = 0;
  }

  /** Adds one event; false when its id was already shown (a replay after a reconnect). */
  add(type, data, id) {
    const key = id != null && id !== "" ? String(id) : data.event_id != null ? String(data.event_id) : null;
    if (key !== null) {
      if (this.seen.has(key)) return false;
      this.seen.add(key);
      const n = Number(key);
      if (Number.isFinite(n) && n > this.lastId) this.lastId = n;
    }
    const ev = {type, data, id: key};
    this.events.push(ev);
    this.list.append(type === "reason-card" ? this.card(ev) : this.line(ev));
    return true;
  }

  line(ev) {
    const {type, data} = ev;
    return h("li", {class: `tl-item tl-${type} ${KIND[type] || ""}`.trim(), dataset: {eventId: ev.id ?? "", type}},
      h("time", {datetime: data.ts || ""}, time(data.ts)),
      h("span", {class: "tl-stage"}, stageName(data.node_name)),
      h("span", {class: "tl-text"}, describe(type, data)));
  }

  card(ev) {
    const card = ev.data;
    const body = h("div", {class: "rc-body"});
    let rendered = false;
    const details = h("details", {class: "reason-card", dataset: {decisionId: card.decision_id || ""}},
      h("summary", null,
        h("time", {datetime: card.ts || ""}, time(card.ts)),
        h("span", {class: "tl-stage"}, stageName(card.node_name)),
        h("span", {class: "tl-text"}, card.summary || "(no summary)"),
        card.confidence != null ? h("span", {class: "rc-conf", title: "Confidence"}, pct(card.confidence)) : null),
      body);
    details.addEventListener("toggle", () => {
      if (details.open && !rendered) {
        rendered = true;
        body.append(...reasonCardBody(card));
      }
    });
    return h("li", {class: "tl-item tl-reason-card", dataset: {eventId: ev.id ?? "", type: "reason-card"}}, details);
  }
}

function section(title, ...content) {
  const items = content.flat().filter(Boolean);
  if (!items.length) return null;
  return h("section", {class: "rc-section"}, h("h4", null, title), items);
}

function list(items, cls = "") {
  if (!items || !items.length) return null;
  return h("ul", {class: cls}, items.map((i) => h("li", null, typeof i === "string" ? i : show(i))));
}

export function reasonCardBody(card) {
  const inputs = card.inputs || {};
  const choiceId = card.choice && card.choice.id;
  const candidate = (c) => h("li", {class: `candidate${c.id === choiceId ? " chosen" : ""}`},
    h("div", {class: "cand-head"},
      h("strong", null, pattern(c.id)), c.id === choiceId ? badge("chosen", "ok") : null,
      c.score != null ? h("span", {class: "muted"}, ` score ${Number(c.score).toFixed(2)}`) : null),
    c.summary ? h("p", null, c.summary) : null,
    (c.pros || []).length ? h("ul", {class: "pros", "aria-label": "Pros"}, c.pros.map((p) => h("li", null, p))) : null,
    (c.cons || []).length ? h("ul", {class: "cons", "aria-label": "Cons"}, c.cons.map((p) => h("li", null, p))) : null,
    (c.tradeoffs || []).length ? h("p", {class: "muted"}, "Trade-offs: ", c.tradeoffs.join("; ")) : null,
    c.rejected_because ? h("p", {class: "rejected"}, c.eligible === false ? "Not eligible: " : "Not chosen: ",
      c.rejected_because) : null);
  const all = card.candidates || [];
  const eligible = all.filter((c) => c.eligible !== false).map(candidate);
  const ineligible = all.filter((c) => c.eligible === false).map(candidate);

  const policy = Object.entries(card.policy_results || {});
  const impacts = Object.entries(card.impacts || {});
  const details = Object.entries(card.details || {});
  const provider = card.provider || {};
  return [
    h("p", {class: "muted"}, `Trigger: ${TRIGGERS[card.trigger] || label(card.trigger)} · agent ${card.agent || "?"}`),
    section("Inputs",
      (inputs.constraints_keys || []).length
        ? h("div", {class: "chips"}, inputs.constraints_keys.map((k) => h("span", {class: "chip"}, label(k)))) : null,
      (inputs.artifacts || []).length ? h("p", null, "Built on: ", inputs.artifacts.flatMap((a, i) =>
        [i ? ", " : "", LABELS.patterns[a] ? pattern(a) : label(String(a).replace(/^capability:/, ""))])) : null,
      (inputs.spans || []).length ? h("ul", {class: "spans"}, inputs.spans.map((s) =>
        h("li", null, h("q", null, s.text ?? ""), ` → ${label(s.field)} = ${show(s.value)}`))) : null),
    section("Options considered", eligible.length ? h("ul", {class: "candidates"}, eligible) : null),
    section("Not eligible (a hard constraint rules them out)",
      ineligible.length ? h("ul", {class: "candidates ineligible"}, ineligible) : null),
    section("Choice and rationale", card.choice
      ? [h("p", null, h("strong", null, pattern(card.choice.id))), h("p", null, card.choice.justification || "")] : null),
    section("Policy impact", policy.length ? h("ul", null, policy.map(([rule, status]) =>
      h("li", null, badge(status, status), " ", rule))) : null),
    section("Cost and other impact", impacts.length ? h("dl", {class: "kv"}, impacts.map(([k, v]) =>
      [h("dt", null, label(k)), h("dd", null, show(v))])) : null),
    section("Confidence and risks",
      h("div", {class: "confidence"},
        h("div", {class: "bar", role: "img", "aria-label": `Confidence ${pct(card.confidence)}`},
          h("span", {style: {width: pct(card.confidence ?? 0)}})),
        h("span", null, pct(card.confidence))),
      list(card.risks, "risks"),
      (card.assumptions || []).length ? [h("p", {class: "muted"}, "Assumptions:"), list(card.assumptions)] : null),
    section("Details", details.length ? h("dl", {class: "kv"}, details.map(([k, v]) =>
      [h("dt", null, label(k)), h("dd", null, render(v))])) : null),
    section("Provider and model", h("p", null,
      `${provider.provider || "deterministic"}${provider.model ? ` · ${provider.model}` : ""}` +
      ` · ${provider.input_tokens || 0} in / ${provider.output_tokens || 0} out tokens` +
      (provider.fallback_from ? ` · fell back from ${provider.fallback_from}` : "") +
      (card.prompt_pack_hash ? ` · prompt pack ${String(card.prompt_pack_hash).slice(0, 12)}` : ""))),
  ].filter(Boolean);
}
