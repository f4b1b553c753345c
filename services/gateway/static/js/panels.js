// Panels of a decision set: policy, cost, "What just happened?", and the gates
// (intake questions answered inline; the approval box with waivers).

import {api} from "./api.js";
import {badge, h, label, pct, replace, show, signedUsd, usd, when} from "./dom.js";
import {stageName, TRIGGERS} from "./timeline.js";

export function policyPanel(policy, approval) {
  if (!policy || !(policy.rules || []).length) {
    return [h("p", {class: "muted"}, "No policy evaluation yet.")];
  }
  // waivers given at the approval gate mark the rules they cover
  const given = new Map(((approval && approval.status === "approved" && approval.waivers) || [])
    .map((w) => [w.rule_id, w]));
  const order = {fail: 0, warn: 1, pass: 2};
  const rules = [...policy.rules].map((r) => given.has(r.id) && !r.waived
    ? {...r, waived: true, waiver_reason: `${given.get(r.id).reason} (by ${given.get(r.id).by})`} : r).sort((x, y) => (order[x.status] ?? 3) - (order[y.status] ?? 3));
  return [
    h("p", null, "Overall ", badge(policy.overall, policy.overall),
      policy.requires_review ? h("span", {class: "muted"}, " · needs human review") : null),
    h("ul", {class: "rules", "aria-label": "Policy rules"}, rules.map((r) =>
      h("li", {class: `rule ${r.status}`, dataset: {rule: r.id, status: r.status}},
        h("div", {class: "rule-head"},
          badge(r.waived ? `${r.status} · waived` : r.status, r.waived ? "waived" : r.status),
          h("strong", {class: "rule-id"}, r.id)),
        h("p", {class: "rule-detail"}, r.detail || ""),
        r.control ? h("p", {class: "rule-control muted"}, `Control: ${r.control}`) : null,
        r.waiver_reason ? h("p", {class: "muted"}, `Waiver: ${r.waiver_reason}`) : null))),
  ];
}

/** Cost total, range, delta vs the previous version, and the breakdown as a CSS bar chart. */
export function costPanel(cost, previousUsd) {
  if (!cost || cost.monthly_usd == null) return [h("p", {class: "muted"}, "No cost estimate yet.")];
  let delta = cost.delta_vs_prev_usd;
  let deltaPct = cost.delta_vs_prev_pct;
  if (delta == null && previousUsd != null) {
    delta = cost.monthly_usd - previousUsd;
    deltaPct = previousUsd ? (delta / previousUsd) * 100 : null;
  }
  const byService = new Map();
  for (const item of cost.breakdown || []) {
    const key = item.service || "other";
    const entry = byService.get(key) || {service: key, usd: 0, parts: []};
    entry.usd += Number(item.usd) || 0;
    entry.parts.push(item);
    byService.set(key, entry);
  }
  const bars = [...byService.values()].sort((a, b) => b.usd - a.usd);
  const max = Math.max(1, ...bars.map((b) => b.usd));
  return [
    h("p", {class: "cost-total"}, h("span", {class: "big", dataset: {usd: cost.monthly_usd}}, usd(cost.monthly_usd)),
      " per month"),
    cost.low_usd != null ? h("p", {class: "muted"}, `Range ${usd(cost.low_usd)} – ${usd(cost.high_usd)}`) : null,
    delta != null ? h("p", {class: `delta ${delta > 0 ? "up" : delta < 0 ? "down" : ""}`},
      `${signedUsd(delta)}${deltaPct != null ? ` (${deltaPct > 0 ? "+" : ""}${Number(deltaPct).toFixed(1)}%)` : ""}` +
      " vs previous version") : null,
    bars.length ? h("ul", {class: "bars", "aria-label": "Monthly cost by service"}, bars.map((b) =>
      h("li", {title: b.parts.map((p) => `${p.qty} ${p.component ? `(${p.component})` : ""}`).join("; ")},
        h("span", {class: "bar-label"}, b.service),
        h("span", {class: "bar-track", "aria-hidden": "true"},
          h("span", {class: "bar-fill", style: {width: `${Math.max(1, (b.usd / max) * 100).toFixed(1)}%`}})),
        h("span", {class: "bar-value"}, usd(b.usd))))) : null,
    (cost.assumptions || []).length ? h("details", null, h("summary", null, "Assumptions"),
      h("ul", null, cost.assumptions.map((a) => h("li", null, a)))) : null,
  ];
}

const AGENTS = {
  intake: "The intake", planner: "The planner", critics: "The critics", critic: "The critics", policy: "The policy engine",
  gate: "The approval gate", codegen: "Codegen", validators: "The validators", rationale: "The rationale compiler", persist: "Diff & persist",
};

/** A summary of the latest stage's Reason Cards, shown after each recompute. */
export function whatHappened(events, ds) {
  const cards = events.filter((e) => e.type === "reason-card");
  if (!cards.length) return [h("p", {class: "muted"}, "Nothing has happened yet: the agents are starting.")];
  const last = cards[cards.length - 1].data;
  const stageKey = last.agent || last.node_name;
  const group = [];
  for (let i = cards.length - 1; i >= 0; i--) {
    const d = cards[i].data;
    if ((d.agent || d.node_name) !== stageKey) break;
    group.unshift(d);
  }
  const latest = (type) => [...events].reverse().find((e) => e.type === type)?.data;
  const cost = latest("cost-update");
  const policy = latest("policy-update");
  const diff = latest("diff-update");
  const error = latest("run-error");
  const stage = AGENTS[last.agent] || (last.agent ? label(last.agent) : stageName(last.node_name));
  return [
    h("p", {class: "lead"}, `${stage} made ${group.length} decision${group.length === 1 ? "" : "s"}`,
      last.trigger ? `, prompted by ${TRIGGERS[last.trigger] || label(last.trigger)}` : "", "."),
    h("ul", {class: "happened"}, group.map((c) => h("li", null,
      h("strong", null, stageName(c.node_name)), ": ", c.summary || "(no summary)",
      c.choice && c.choice.id ? h("span", {class: "muted"}, ` → ${c.choice.id}`) : null,
      c.confidence != null ? h("span", {class: "muted"}, ` (confidence ${pct(c.confidence)})`) : null,
      (c.risks || []).length ? h("span", {class: "muted"}, ` · ${c.risks.length} risk${c.risks.length === 1 ? "" : "s"}`) : null))),
    h("p", {class: "muted"}, [
      cost ? `Cost now ${usd(cost.monthly_usd)}/month` +
        (cost.delta_vs_prev_usd != null ? ` (${signedUsd(cost.delta_vs_prev_usd)} vs previous)` : "") : null,
      policy ? `policy ${policy.overall}` : null,
      diff ? `${(diff.files_added || 0) + (diff.files_removed || 0) + (diff.files_modified || 0)} files changed` : null,
      error ? `error in ${stageName(error.node_name)}: ${error.message}` : null,
      ds ? `status ${label(ds.status)}` : null,
    ].filter(Boolean).join(" · ")),
  ];
}

/** Typed input for one intake question; returns {el, read(), setOptions()} where read() gives the typed value
 * or undefined (not answered). A required question starts unanswered; an optional one can always be cleared. */
function questionInput(q, idx) {
  const id = `q-${idx}-${String(q.field).replace(/[^a-z0-9_-]/gi, "")}`;
  const def = q.default;
  const hint = [q.why ? h("p", {class: "hint", id: `${id}-why`}, q.why) : null];
  const legendText = [q.prompt, " ", q.blocking ? badge("required", "warn") : badge("optional", "muted")];
  const describedBy = q.why ? `${id}-why` : null;
  if ((q.kind === "choice" || q.kind === "multi") && ((q.options || []).length || q.depends_on)) {
    const multi = q.kind === "multi";
    const checks = h("div", {class: "checks"});
    const other = multi ? h("input", {id: `${id}-other`, autocomplete: "off", placeholder: "comma separated",
      class: "other-input"}) : null;
    const el = h("fieldset", {class: "field question", dataset: {field: q.field}, "aria-describedby": describedBy},
      h("legend", null, legendText), checks,
      multi ? h("div", {class: "field"}, h("label", {for: `${id}-other`, class: "sub"}, "Other"), other) : null,
      q.blocking || multi ? null : h("button", {type: "button", class: "link clear-choice",
        onclick: () => el.querySelectorAll("input:checked").forEach((i) => { i.checked = false; })}, "Clear"),
      hint);
    const setOptions = (options, selected) => {
      const keep = new Set(selected);
      replace(checks, ...options.map((o, i) => h("label", {class: "check"},
        h("input", {type: multi ? "checkbox" : "radio", name: id, value: o, id: `${id}-${i}`, checked: keep.has(o)}),
        " ", o)));
    };
    setOptions(q.options || [], Array.isArray(def) ? def : def != null ? [def] : []);
    const read = () => {
      if (!multi) return el.querySelector("input:checked")?.value;
      const vals = [...el.querySelectorAll("input:checked")].map((i) => i.value);
      for (const extra of other.value.split(",").map((x) => x.trim()).filter(Boolean)) {
        if (!vals.includes(extra)) vals.push(extra);
      }
      return vals.length ? vals : undefined;
    };
    return {el, read, setOptions};
  }
  const number = q.kind === "number";
  const input = h("input", {id, type: number ? "number" : "text", step: number ? "any" : null, min: number ? 0 : null,
    inputmode: number ? "decimal" : null, autocomplete: "off", "aria-describedby": describedBy,
    value: def == null ? "" : Array.isArray(def) ? def.join(", ") : String(def),
    placeholder: q.kind === "multi" ? "comma separated" : null});
  const el = h("div", {class: "field question", dataset: {field: q.field}},
    h("label", {for: id}, legendText), input, hint);
  return {el, setOptions: () => {}, read: () => {
    const raw = input.value.trim();
    if (!raw) return undefined;
    if (number) {
      const n = Number(raw.replace(/[$,\s]/g, ""));
      return Number.isFinite(n) ? n : undefined;
    }
    if (q.kind === "multi") return raw.split(",").map((x) => x.trim()).filter(Boolean);
    return raw;
  }};
}

/** Options of a question that depend on another question's answer (regions follow the chosen cloud). */
function linkDependents(questions, inputs) {
  questions.forEach((q, i) => {
    if (!q.depends_on || !q.options_by) return;
    const j = questions.findIndex((p) => p.field === q.depends_on);
    if (j < 0) return;
    const follow = () => {
      const chosen = inputs[j].read();
      const options = (chosen && q.options_by[chosen]) || q.options || [];
      const kept = [].concat(inputs[i].read() || []).filter((o) => options.includes(o));
      inputs[i].setOptions(options, kept);
    };
    inputs[j].el.addEventListener("change", follow);
    follow();
  });
}

export function intakeGate(ds, gate, onDone) {
  const questions = gate.questions || [];
  const inputs = questions.map(questionInput);
  linkDependents(questions, inputs);
  const required = questions.filter((q) => q.blocking).map((q) => q.field);
  const free = h("textarea", {id: "answer-text", rows: 2, maxlength: 20000,
    placeholder: "e.g. AWS in eu-west-1, internal data"});
  const status = h("div", {class: "form-status", "aria-live": "polite"});
  const submit = h("button", {type: "submit", class: "primary"}, "Send answers");
  const skip = required.length ? null : h("button", {type: "button", class: "secondary", id: "skip-questions"},
    "Skip: assume the rest");
  const form = h("form", {class: "stack gate intake-gate", id: "answers-form", "aria-labelledby": "answers-heading"},
    h("h2", {id: "answers-heading"}, "The intake needs a few answers"),
    h("p", {class: "muted"}, required.length
      ? "Required answers are marked; answer what else you know, the rest is assumed and shown as assumptions."
      : "Answer what you know, or skip: the rest is assumed and shown as assumptions."),
    inputs.map((i) => i.el),
    h("div", {class: "field"}, h("label", {for: "answer-text"}, "Or answer in your own words"), free),
    h("div", {class: "actions"}, submit, skip, status));
  const mark = (fields) => {
    for (const el of form.querySelectorAll(".question")) el.classList.toggle("invalid", fields.includes(el.dataset.field));
  };
  const send = async (answers, text) => {
    submit.disabled = true;
    if (skip) skip.disabled = true;
    replace(status, "Sending…");
    try {
      await api.answer(ds.id, {interrupt_id: gate.interrupt_id || null, answers, text});
      replace(status, "Answers sent; the intake continues.");
      onDone();
    } catch (err) {
      submit.disabled = false;
      if (skip) skip.disabled = false;
      const fields = ((err.body && err.body.error && err.body.error.details) || []).map((d) => d.field).filter(Boolean);
      mark(fields);
      replace(status, h("span", {class: "error", role: "alert"},
        `Not sent: ${err.message}` + (fields.length ? " (fix the highlighted question)" : "")));
      form.querySelector(".question.invalid input")?.focus();
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const answers = {};
    questions.forEach((q, i) => {
      const v = inputs[i].read();
      if (v !== undefined) answers[q.field] = v;
    });
    const text = free.value.trim();
    const missing = text ? [] : required.filter((f) => answers[f] === undefined);
    if (missing.length) {
      mark(missing);
      replace(status, h("span", {class: "error", role: "alert"}, `Please answer: ${missing.map(label).join(", ")}.`));
      return;
    }
    if (!Object.keys(answers).length && !text && !skip) {
      replace(status, h("span", {class: "error", role: "alert"}, "Answer at least one question."));
      return;
    }
    send(answers, text);
  });
  if (skip) skip.addEventListener("click", () => send({}, ""));
  return form;
}

/** A unit price with the precision it needs ($0.0404 per vCPU-hour, $0.45 per GB). */
function price(value) {
  const v = Number(value);
  return "$" + (v >= 1 ? v.toFixed(2) : v.toPrecision(3).replace(/0+$/, "").replace(/\.$/, ""));
}

/** What is being approved, against the version before it: constraints, cost (lines and deltas), policy, risks. */
export function gateReview(r) {
  const since = r.against_version ? `v${r.against_version}` : null;
  const changed = (r.constraints || []).filter((c) => c.changed);
  const why = r.changed_by;
  const cost = r.cost || {};
  const used = cost.budget_used_pct;
  const lines = r.cost_lines || [];
  const rules = (r.policy || {}).rules || [];
  return h("div", {class: "gate-review", id: "gate-review"},
    h("h3", null, since ? `What changed since ${since}` : "What you are approving"),
    since && why ? h("p", {class: "muted", id: "changed-by"}, `Changed by ${why.label}` +
      (why.comment ? `: “${why.comment}”` : "") + (why.by ? ` (${why.by})` : "")) : null,
    h("div", {class: "table-wrap"}, h("table", {class: "review-constraints", id: "review-constraints"},
      // a first version has nothing before it: no empty "Before" column pushing the values off a phone's screen
      h("thead", null, h("tr", null, h("th", null, "Constraint"), since ? h("th", null, `Before (${since})`) : null,
        h("th", null, "Now"))),
      h("tbody", null, (r.constraints || []).map((c) => h("tr", {class: c.changed ? "changed" : ""},
        h("th", {scope: "row", title: c.key}, c.label),
        since ? h("td", null, c.changed ? h("del", null, c.before) : "") : null,
        h("td", null, c.changed ? h("ins", null, c.value) : c.value)))))),
    changed.length === 0 && since ? h("p", {class: "muted"}, "No constraint changed.") : null,
    h("div", {class: "review-cost"},
      h("p", null, h("strong", null, `${usd(cost.monthly_usd)}/month`),
        cost.low_usd != null ? ` (range ${usd(cost.low_usd)}–${usd(cost.high_usd)})` : "",
        cost.delta_usd != null ? h("span", {class: cost.delta_usd > 0 ? "bad" : "ok"},
          ` ${signedUsd(cost.delta_usd)} vs ${since || "previous"}`) : null),
      used != null ? h("div", {class: "budget-bar", role: "img", "aria-label": `${used}% of the budget`},
        h("span", {class: used > 100 ? "over" : used > 80 ? "near" : "", style: {width: `${Math.min(100, used)}%`}}),
        h("em", null, `${used}% of ${usd(cost.budget_usd)}`)) : null,
      lines.length ? h("div", {class: "table-wrap"}, h("table", {class: "review-lines", id: "review-cost-lines"},
        h("thead", null, h("tr", null, ["Line", "Quantity", "Unit price", "Monthly", since ? "Change" : ""].map((t) =>
          h("th", null, t)))),
        h("tbody", null, lines.map((l) => h("tr", null,
          h("td", {title: l.component || ""}, l.service,
            (l.regions || []).length ? h("span", {class: "muted"}, ` ${l.regions.join(", ")}`) : null),
          h("td", null, l.qty || "–"), h("td", null, l.unit_price_usd != null ? price(l.unit_price_usd) : "–"),
          h("td", null, usd(l.usd)),
          h("td", {class: (l.delta_usd || 0) > 0 ? "bad" : (l.delta_usd || 0) < 0 ? "ok" : ""},
            l.delta_usd != null && Math.abs(l.delta_usd) >= 0.5 ? signedUsd(l.delta_usd) : "")))))) : null),
    rules.length ? h("ul", {class: "review-policy", id: "review-policy"}, rules.map((x) => h("li", null,
      badge(x.waived ? "waived" : x.status, x.waived ? "waived" : x.status), " ", h("strong", null, x.id),
      x.changed && x.before ? h("span", {class: "muted"}, ` (was ${x.before})`) : null, ` ${x.detail || ""}`))) : null,
    (r.risks || []).length ? h("ul", {class: "review-risks"}, r.risks.map((k) =>
      h("li", null, badge(k.severity, `sev-${k.severity}`), " ", k.title))) : null);
}

export function approvalGate(ds, gate, onDone) {
  const policy = ds.policy || gate.policy || {};
  const cost = ds.cost || gate.cost || {};
  const plan = ds.plan || gate.plan || {};
  const failed = (policy.rules || []).filter((r) => r.status === "fail" && !r.waived);
  const comment = h("textarea", {id: "approval-comment", rows: 3, maxlength: 20000,
    placeholder: "e.g. use eu-central-1 instead", "aria-describedby": "approval-comment-help"});
  const reviewer = h("input", {id: "approval-by", value: localStorage.getItem("amp.reviewer") || "user",
    maxlength: 200, autocomplete: "name"});
  const waiverInputs = failed.map((r) => ({
    rule: r,
    input: h("input", {id: `waiver-${r.id}`, minlength: 3, maxlength: 2000, dataset: {rule: r.id},
      placeholder: "Why this risk is accepted"}),
  }));
  const status = h("div", {class: "form-status", "aria-live": "polite"});
  const buttons = {
    approved: h("button", {type: "button", class: "primary", id: "approve-button"}, "Approve"),
    changes_requested: h("button", {type: "button", id: "request-changes-button"}, "Request changes"),
    rejected: h("button", {type: "button", class: "danger", id: "reject-button"}, "Reject"),
  };
  const expires = gate.expires_at || ds.gate_expires_at;
  const box = h("section", {class: "stack gate approval-gate", id: "approval-box", "aria-labelledby": "approval-heading"},
    h("h2", {id: "approval-heading"}, "Your approval is needed"),
    h("p", null, `Plan on ${String(plan.cloud || "?").toUpperCase()} ${(plan.regions || []).join(", ")}: ` +
      `${(plan.components || []).length} components, ${usd(cost.monthly_usd)}/month, policy `,
    badge(policy.overall || "–", policy.overall || ""), "."),
    expires ? h("p", {class: "muted"}, `The gate expires ${when(expires)}.`) : null,
    ds.review ? gateReview(ds.review) : null,
    failed.length ? h("fieldset", {class: "waivers"},
      h("legend", null, "Policy failed: approving needs a waiver for each failed rule"),
      waiverInputs.map(({rule, input}) => h("div", {class: "field"},
        h("label", {for: input.id}, h("strong", null, rule.id), ` — ${rule.detail || ""}`,
          rule.control ? h("span", {class: "muted"}, ` (${rule.control})`) : null),
        input))) : null,
    h("div", {class: "field"},
      h("label", {for: "approval-comment"}, "Comment"), comment,
      h("p", {class: "hint", id: "approval-comment-help"},
        "A change request with a comment (e.g. another region or a lower budget) starts a new version.")),
    h("div", {class: "field narrow"}, h("label", {for: "approval-by"}, "Reviewer"), reviewer),
    h("div", {class: "actions"}, buttons.approved, buttons.changes_requested, buttons.rejected),
    status);

  async function decide(decision) {
    const by = reviewer.value.trim() || "user";
    localStorage.setItem("amp.reviewer", by);
    const text = comment.value.trim();
    if (decision === "changes_requested" && !text) {
      replace(status, h("span", {class: "error", role: "alert"}, "Say what should change in the comment."));
      comment.focus();
      return;
    }
    const waivers = [];
    if (decision === "approved") {
      for (const {rule, input} of waiverInputs) {
        const reason = input.value.trim();
        if (reason.length < 3) {
          replace(status, h("span", {class: "error", role: "alert"},
            `Give a reason (3+ characters) to waive ${rule.id}, or request changes instead.`));
          input.focus();
          return;
        }
        waivers.push({rule_id: rule.id, reason, by});
      }
    }
    Object.values(buttons).forEach((b) => { b.disabled = true; });
    replace(status, "Sending…");
    try {
      await api.approve(ds.id, {status: decision, comment: text, by, waivers});
      replace(status, decision === "approved" ? "Approved: generating the repository."
        : decision === "rejected" ? "Rejected." : "Changes requested: a new version is being planned.");
      onDone(decision);
    } catch (err) {
      Object.values(buttons).forEach((b) => { b.disabled = false; });
      const msg = err.status === 409 ? `Already decided or no longer waiting: ${err.message}`
        : err.code === "policy_blocked" ? `Policy blocks approval: ${err.message}` : err.message;
      replace(status, h("span", {class: "error", role: "alert"}, msg));
    }
  }
  for (const [decision, button] of Object.entries(buttons)) button.addEventListener("click", () => decide(decision));
  return box;
}

export function budgetGate(ds, gate, onDone) {
  const input = h("input", {type: "number", min: "0", step: "1", id: "budget-limit", "aria-label": "New LLM budget in USD"});
  const error = h("p", {class: "error", role: "alert"});
  const resume = async () => {
    error.textContent = "";
    try {
      if (input.value !== "") await api.setBudget(ds.project_id, Number(input.value));
      await api.resume(ds.id);
      onDone();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  return h("section", {class: "gate budget-gate", id: "budget-box", role: "alert"},
    h("h2", null, "Paused: the project's LLM budget"),
    h("p", null, gate.message || "The next model call would exceed the project's LLM budget."),
    h("label", {for: "budget-limit"}, "New budget (USD)"), input,
    h("button", {type: "button", onclick: resume}, "Raise and resume"), error);
}

export function staleGate(ds, onResubmit) {
  return h("section", {class: "gate stale-gate", id: "stale-box", role: "alert"},
    h("h2", null, "This gate is stale"),
    h("p", null, "Nobody decided before the gate expired, so this version stopped. Its plan, cost and policy stay " +
      "here for reference; submit the requirements again for a fresh version."),
    h("button", {type: "button", onclick: onResubmit}, "Start a new version from these requirements"));
}

export function finalNotice(ds, complete) {
  const status = complete?.status || ds.status;
  const artifact = ds.links?.artifact || (complete?.artifact_url ?? null);
  const report = ds.reports?.validation;
  const validationFailed = Boolean(report) && report.overall !== "pass";
  const text = validationFailed && status === "completed"
    ? "Generated, but the repository did not pass validation."
    : {
      completed: "Done: the repository was generated and validated.",
      rejected: "Rejected at the approval gate.",
      superseded: "Superseded by a newer version.",
      failed: validationFailed ? "The generated repository did not pass validation." : "The run failed.",
      stale: "The gate expired.",
    }[status] || `Status: ${label(status)}`;
  const tools = report?.tools || [];
  const notRun = tools.filter((t) => t.status === "skipped" && (t.reason || "").startsWith("no isolation"));
  const validation = tools.length
    ? h("p", {class: "validation-summary", id: "validation-summary"},
        `Validation ${report.overall}: ` + tools.map((t) => `${t.tool} ${t.status}`).join(", "))
    : null;
  const warnings = notRun.map((t) => h("p", {class: "warning no-isolation"},
    `${t.tool} was not run: ${t.reason}`));
  return h("section", {class: `gate final ${validationFailed ? "failed" : status}`, id: "final-box",
                       role: validationFailed ? "alert" : null},
    h("h2", null, text),
    validation, ...warnings,
    validationFailed ? validationPanel(report) : null,
    artifact ? h("a", {class: "button primary", id: "download-zip", href: artifact, download: ""},
      validationFailed ? "Download repository (.zip) with its findings" : "Download repository (.zip)") : null);
}

/** Each validator with its result, why it was skipped or errored, and its findings. */
export function validationPanel(report, perTool = 5) {
  const tools = report?.tools || [];
  return h("details", {class: "validation-panel", id: "validation-panel", open: report.overall !== "pass" ? "" : null},
    h("summary", null, `Validation ${report.overall}: ${tools.filter((t) => t.status === "fail" || t.status === "error")
      .map((t) => t.tool).join(", ") || "every tool passed or was skipped with its reason"}`),
    h("table", {class: "validation-tools"},
      h("thead", null, h("tr", null, h("th", null, "tool"), h("th", null, "result"), h("th", null, "detail"))),
      h("tbody", null, tools.map((t) => h("tr", {class: `tool-${t.status}`},
        h("td", null, t.tool), h("td", null, h("span", {class: `badge ${t.status}`}, t.status)),
        h("td", null,
          t.reason ? h("p", null, t.reason) : null,
          (t.findings || []).length ? h("ul", null, (t.findings || []).slice(0, perTool).map((f) => h("li", null,
            f.path ? h("code", null, `${f.path}:${f.line || 1}`) : null, f.path ? " " : null,
            h("strong", null, f.rule), `: ${f.message}`))) : null,
          (t.findings || []).length > perTool
            ? h("p", {class: "muted"}, `… ${(t.findings || []).length - perTool} more in reports/validation.json`) : null))))));
}

export function constraintsList(ds) {
  const constraints = Object.entries(ds.constraints || {}).filter(([, v]) =>
    v !== null && v !== undefined && !(Array.isArray(v) && !v.length));
  const assumptions = ds.assumptions || [];
  return [
    ds.requirements ? h("blockquote", {class: "requirements", id: "requirements-text"}, ds.requirements) : null,
    ((ds.review || {}).text_overrides || []).length ? h("p", {class: "note", id: "text-overrides"},
      "Since the text was written, these constraints changed: ",
      ds.review.text_overrides.map((o, i) => [i ? "; " : "", h("strong", null, o.label), ` ${o.text} → ${o.value}`]),
      ". The constraints below are the ones in force.") : null,
    constraints.length ? h("dl", {class: "kv"}, constraints.map(([k, v]) => [h("dt", null, label(k)), h("dd", null, show(v))]))
      : h("p", {class: "muted"}, "No constraints extracted yet."),
    assumptions.length ? [h("h3", null, "Assumptions"), h("ul", null, assumptions.map((a) =>
      h("li", null, typeof a === "string" ? a : `${label(a.field)} = ${show(a.value)}: ${a.reason || ""}`)))] : null,
  ];
}

export function risksList(risks) {
  if (!risks || !risks.length) return [h("p", {class: "muted"}, "No risks recorded.")];
  return [h("ul", {class: "risks"}, risks.map((r) => h("li", null,
    badge(r.severity, `sev-${r.severity}`), " ", h("strong", null, r.title), r.component ? ` (${r.component})` : "",
    h("div", null, r.detail || ""), r.probe ? h("div", {class: "muted"}, `Probe: ${r.probe}`) : null)))];
}
