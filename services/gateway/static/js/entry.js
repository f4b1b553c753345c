// The two entry points: Quick Start (freeform text with a live coverage meter from
// POST /intake/preview) and Guided Setup (a wizard rendered from GET /intake/schema).

import {api} from "./api.js";
import {append, badge, clear, debounce, h, label, replace, show} from "./dom.js";

const PREVIEW_DEBOUNCE_MS = 350;

export function renderEntry(root, ctx) {
  const {project} = ctx;
  clear(root);
  const title = project ? project.name : "Start a new ML system";
  const intro = project
    ? "Describe what should change, or the whole system again: a new version is planned, reviewed and generated."
    : "Describe the ML system you need. Agents plan it, critique it, check cost and policy, ask you to approve, " +
      "and generate the repository.";

  const tabs = [
    {id: "quick", title: "Quick Start"},
    {id: "guided", title: "Guided Setup"},
  ];
  const panels = {};
  const tabButtons = {};
  const tablist = h("div", {class: "tabs", role: "tablist", "aria-label": "Ways to give requirements"});
  for (const tab of tabs) {
    tabButtons[tab.id] = h("button", {
      type: "button", role: "tab", id: `tab-${tab.id}`, "aria-controls": `panel-${tab.id}`,
      onclick: () => select(tab.id),
      onkeydown: (e) => {
        if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
          const next = tabs[(tabs.findIndex((t) => t.id === tab.id) + 1) % tabs.length].id;
          select(next);
          tabButtons[next].focus();
        }
      },
    }, tab.title);
    tablist.append(tabButtons[tab.id]);
    panels[tab.id] = h("div", {role: "tabpanel", id: `panel-${tab.id}`, "aria-labelledby": `tab-${tab.id}`,
      class: "tabpanel"});
  }

  const description = project && project.description ? h("p", {class: "muted"}, project.description) : null;
  append(root, [
    h("section", {class: "card entry", "aria-labelledby": "entry-title"},
      h("h1", {id: "entry-title"}, title), description, h("p", {class: "lead"}, intro),
      project ? null : h("div", {class: "field"},
        h("label", {for: "project-name"}, "Project name"),
        h("input", {id: "project-name", maxlength: 200, placeholder: "e.g. Card fraud scoring", autocomplete: "off"})),
      tablist, panels.quick, panels.guided),
  ]);

  const quick = quickStart(panels.quick, ctx);
  let guided = null;

  function select(id) {
    for (const tab of tabs) {
      const on = tab.id === id;
      tabButtons[tab.id].setAttribute("aria-selected", String(on));
      tabButtons[tab.id].tabIndex = on ? 0 : -1;
      panels[tab.id].hidden = !on;
    }
    if (id === "guided" && !guided) guided = guidedSetup(panels.guided, ctx);
  }
  select("quick");

  return {destroy: () => quick.destroy()};
}

/** Creates the project when there is none yet, then submits; navigates to the new version. */
async function submitRequirements(ctx, text, constraints, statusEl) {
  let project = ctx.project;
  try {
    if (!project) {
      const nameInput = document.getElementById("project-name");
      const name = (nameInput && nameInput.value.trim()) || text.trim().split(/[.:\n]/)[0].slice(0, 80) ||
        "Untitled ML system";
      project = await api.createProject(name, text.slice(0, 500));
      await ctx.onProjectCreated(project);
    }
    const submitted = await api.submit(project.id, text, constraints);
    ctx.navigate(`#/ds/${submitted.decision_set_id}`);
  } catch (e) {
    replace(statusEl, h("span", {class: "error", role: "alert"}, `Not submitted: ${e.message}`));
    return false;
  }
  return true;
}

function quickStart(root, ctx) {
  const textarea = h("textarea", {
    id: "requirements", rows: 7, maxlength: 20000, spellcheck: "true",
    "aria-describedby": "coverage-summary requirements-help",
    placeholder: "e.g. Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per " +
      "second, 99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. " +
      "Retrain weekly.",
  });
  textarea.value = ctx.prefill || "";
  const meterFill = h("div", {class: "meter-fill"});
  const meterThreshold = h("div", {class: "meter-threshold", title: "Threshold"});
  const meter = h("div", {class: "meter", role: "meter", id: "coverage-meter", "aria-label": "Coverage", dataset: {score: "0"},
    "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0}, meterFill, meterThreshold);
  const summary = h("p", {id: "coverage-summary", class: "coverage-summary", "aria-live": "polite"},
    "Coverage appears here while you type.");
  const found = h("div", {class: "chips", id: "coverage-found", "aria-label": "Understood fields"});
  const missing = h("div", {class: "chips", id: "coverage-missing", "aria-label": "Missing fields"});
  const conflicts = h("ul", {class: "conflicts", id: "coverage-conflicts", "aria-label": "Conflicts"});
  const highlight = h("div", {class: "highlight", id: "coverage-highlight", "aria-label": "What was understood"});
  const questions = h("ul", {class: "questions-preview", id: "coverage-questions"});
  const status = h("div", {class: "form-status"});
  const submit = h("button", {type: "submit", class: "primary", id: "submit-requirements"}, "Plan it");

  const form = h("form", {class: "stack", id: "quick-start-form", "aria-label": "Quick Start"},
    h("div", {class: "field"},
      h("label", {for: "requirements"}, "Requirements"),
      textarea,
      h("p", {id: "requirements-help", class: "hint"},
        "Cloud, regions, data class and compliance, workload, latency and throughput, availability, budget, " +
        "deployment, retraining. Ctrl+Enter submits.")),
    h("section", {class: "coverage", "aria-labelledby": "coverage-heading"},
      h("h2", {id: "coverage-heading", class: "h3"}, "Coverage"),
      meter, summary, found, missing, conflicts,
      h("details", {class: "understood"}, h("summary", null, "Highlighted text"), highlight),
      questions),
    h("div", {class: "actions"}, submit, status));
  root.append(form);

  let seq = 0;
  let lastText = null;
  const preview = debounce(async () => {
    const text = textarea.value;
    if (text === lastText) return;
    lastText = text;
    const mine = ++seq;
    if (!text.trim()) {
      renderCoverage(null, text);
      return;
    }
    form.setAttribute("aria-busy", "true");
    try {
      const result = await api.preview(text);
      if (mine !== seq) return; // a newer keystroke already asked again
      renderCoverage(result, text);
    } catch (e) {
      if (mine !== seq) return;
      summary.textContent = `Coverage could not be computed: ${e.message}`;
    } finally {
      if (mine === seq) form.removeAttribute("aria-busy");
    }
  }, PREVIEW_DEBOUNCE_MS);

  function renderCoverage(result, text) {
    clear(found); clear(missing); clear(conflicts); clear(highlight); clear(questions);
    if (!result) {
      meterFill.style.width = "0%";
      meter.setAttribute("aria-valuenow", "0");
      meter.dataset.score = "0";
      summary.textContent = "Coverage appears here while you type.";
      return;
    }
    const cov = result.coverage || {};
    const score = Math.round((cov.score || 0) * 100);
    const threshold = Math.round((cov.threshold || 0) * 100);
    meterFill.style.width = `${score}%`;
    meterThreshold.style.left = `${threshold}%`;
    meter.classList.toggle("passed", !!cov.passed);
    meter.setAttribute("aria-valuenow", String(score));
    meter.setAttribute("aria-valuetext", `${score}% of ${threshold}% needed`);
    meter.dataset.score = String(score);
    summary.textContent = `${score}% covered (${threshold}% needed) — ` +
      (cov.passed ? "enough to plan." : "the intake will ask for what is missing.");

    const constraints = result.constraints || {};
    for (const [key, value] of Object.entries(constraints)) {
      if (value === null || (Array.isArray(value) && !value.length)) continue;
      found.append(h("span", {class: "chip ok", dataset: {field: key}}, `${label(key)}: ${show(value)}`));
    }
    const blocking = new Set(cov.blocking || []);
    for (const field of cov.missing || []) {
      missing.append(h("span", {class: `chip missing${blocking.has(field) ? " blocking" : ""}`, dataset: {field}},
        `missing: ${label(field)}`, blocking.has(field) ? " (blocks planning)" : ""));
    }
    for (const field of blocking) {
      if (!(cov.missing || []).includes(field)) {
        missing.append(h("span", {class: "chip missing blocking", dataset: {field}},
          `needed: ${label(field)} (blocks planning)`));
      }
    }
    for (const c of cov.conflicts || []) {
      conflicts.append(h("li", {class: `conflict ${c.severity}`},
        badge(c.severity === "block" ? "conflict" : "check", c.severity === "block" ? "fail" : "warn"), " ",
        h("strong", null, (c.fields || []).map(label).join(" × ")), ": ", c.message));
    }
    renderHighlight(highlight, text, result.spans || []);
    const qs = result.questions || [];
    if (qs.length) {
      questions.append(h("li", {class: "muted"}, "The intake will ask:"));
      for (const q of qs) questions.append(h("li", null, q.prompt));
    }
  }

  textarea.addEventListener("input", preview);
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = textarea.value.trim();
    if (!text) {
      replace(status, h("span", {class: "error", role: "alert"}, "Write the requirements first."));
      textarea.focus();
      return;
    }
    submit.disabled = true;
    replace(status, "Submitting…");
    if (!(await submitRequirements(ctx, text, {}, status))) submit.disabled = false;
  });
  if (textarea.value) preview();
  return {destroy: () => preview.cancel()};
}

/** The text with the extracted spans marked (built from text nodes and <mark> elements). */
function renderHighlight(root, text, spans) {
  const sorted = [...spans].filter((s) => Number.isInteger(s.start) && Number.isInteger(s.end) && s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let pos = 0;
  for (const span of sorted) {
    if (span.start < pos) continue; // overlapping spans: keep the first
    if (span.start > pos) root.append(document.createTextNode(text.slice(pos, span.start)));
    root.append(h("mark", {title: `${label(span.field)}: ${show(span.value)}`, dataset: {field: span.field}},
      text.slice(span.start, span.end)));
    pos = span.end;
  }
  if (pos < text.length) root.append(document.createTextNode(text.slice(pos)));
}

function guidedSetup(root, ctx) {
  replace(root, h("p", {class: "muted"}, "Loading the questions…"));
  const values = {};
  let schema = null;
  let stepIndex = 0;

  api.schema().then((s) => {
    schema = s;
    render();
  }).catch((e) => replace(root, h("p", {class: "error", role: "alert"}, `The wizard could not be loaded: ${e.message}`)));

  function steps() {
    const names = schema.steps || [...new Set(schema.fields.map((f) => f.step))];
    return names.filter((s) => schema.fields.some((f) => f.step === s));
  }

  function render() {
    const all = steps();
    const step = all[stepIndex];
    const fields = schema.fields.filter((f) => f.step === step);
    const status = h("div", {class: "form-status"});
    const progress = h("ol", {class: "steps", "aria-label": "Steps"},
      all.map((name, i) => h("li", {class: i === stepIndex ? "current" : i < stepIndex ? "done" : null,
        "aria-current": i === stepIndex ? "step" : null}, name)));
    const last = stepIndex === all.length - 1;
    const form = h("form", {class: "stack wizard", id: "guided-form", "aria-label": `Guided Setup: ${step}`},
      progress,
      h("fieldset", null, h("legend", null, `Step ${stepIndex + 1} of ${all.length}: ${step}`),
        fields.map((f) => wizardField(f, values))),
      h("div", {class: "actions"},
        stepIndex > 0 ? h("button", {type: "button", onclick: () => { stepIndex--; render(); }}, "Back") : null,
        last ? h("button", {type: "submit", class: "primary"}, "Plan it")
          : h("button", {type: "submit", class: "primary"}, "Next"),
        status));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!last) {
        stepIndex++;
        render();
        root.querySelector("input, select, textarea")?.focus();
        return;
      }
      const constraints = {};
      for (const [k, v] of Object.entries(values)) {
        if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) continue;
        constraints[k] = v;
      }
      if (!Object.keys(constraints).length) {
        replace(status, h("span", {class: "error", role: "alert"}, "Answer at least one question."));
        return;
      }
      replace(status, "Submitting…");
      await submitRequirements(ctx, "", constraints, status);
    });
    replace(root, form);
  }
  return {};
}

function wizardField(field, values) {
  const id = `wiz-${field.name}`;
  const help = field.help ? h("p", {class: "hint", id: `${id}-help`}, field.help) : null;
  const title = [field.title || label(field.name), field.required ? " *" : ""];
  const describedBy = field.help ? `${id}-help` : null;
  const current = values[field.name];
  let control;
  if (field.kind === "choice") {
    control = h("select", {id, "aria-describedby": describedBy,
      onchange: (e) => { values[field.name] = e.target.value || null; }},
    h("option", {value: ""}, "— not specified —"),
    (field.options || []).map((o) => h("option", {value: o, selected: current === o}, o)));
  } else if (field.kind === "multi" && (field.options || []).length) {
    const chosen = new Set(current || []);
    return h("fieldset", {class: "field checks", "aria-describedby": describedBy},
      h("legend", null, title),
      (field.options || []).map((o) => h("label", {class: "check"},
        h("input", {type: "checkbox", value: o, checked: chosen.has(o), onchange: (e) => {
          if (e.target.checked) chosen.add(o); else chosen.delete(o);
          values[field.name] = [...chosen];
        }}), " ", o)),
      help);
  } else if (field.kind === "multi") {
    const listId = `${id}-suggestions`;
    control = h("input", {id, list: listId, "aria-describedby": describedBy, autocomplete: "off",
      placeholder: (field.suggestions || []).slice(0, 3).join(", "), value: (current || []).join(", "),
      oninput: (e) => { values[field.name] = e.target.value.split(",").map((s) => s.trim()).filter(Boolean); }});
    return h("div", {class: "field"}, h("label", {for: id}, title, h("span", {class: "hint"}, " (comma separated)")),
      control, h("datalist", {id: listId}, (field.suggestions || []).map((s) => h("option", {value: s}))), help);
  } else if (field.kind === "number") {
    control = h("input", {id, type: "number", inputmode: "decimal", min: 0, step: "any", "aria-describedby": describedBy,
      value: current ?? "", oninput: (e) => {
        values[field.name] = e.target.value === "" ? null : Number(e.target.value);
      }});
  } else if (field.kind === "boolean") {
    control = h("select", {id, "aria-describedby": describedBy,
      onchange: (e) => { values[field.name] = e.target.value === "" ? null : e.target.value === "true"; }},
    h("option", {value: ""}, "— not specified —"),
    h("option", {value: "true", selected: current === true}, "yes"),
    h("option", {value: "false", selected: current === false}, "no"));
  } else {
    control = h("input", {id, "aria-describedby": describedBy, value: current ?? "",
      oninput: (e) => { values[field.name] = e.target.value; }});
  }
  return h("div", {class: "field"}, h("label", {for: id}, title), control, help);
}
