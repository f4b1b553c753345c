// The diff view between versions and the architecture diagram (Mermaid, vendored, loaded on demand).

import {api} from "./api.js";
import {clear, h, label, LABELS, pattern, replace, show as text, signedUsd} from "./dom.js";

const MAX_LINES = 3000;

/** Renders the diff section of `ds` into `root`; `versions` are the project's decision sets. */
export function renderDiff(root, ds, versions) {
  clear(root);
  if (!ds.git_commit) {
    root.append(h("p", {class: "muted"}, "No generated repository yet: the diff appears once code is generated."));
    return;
  }
  const others = (versions || []).filter((v) => v.id !== ds.id).sort((a, b) => b.version - a.version);
  const select = h("select", {id: "diff-against"},
    h("option", {value: ""}, ds.parent_id ? "previous version (parent)" : "empty repository"),
    others.map((v) => h("option", {value: v.id}, `version ${v.version} (${v.status})`)));
  const out = h("div", {class: "diff-out", "aria-live": "polite"});
  root.append(h("div", {class: "field row-field"}, h("label", {for: "diff-against"}, "Compare with"), select), out);
  const load = async () => {
    replace(out, h("p", {class: "muted"}, "Loading the diff…"));
    try {
      const data = await api.diff(ds.id, select.value || null);
      replace(out, ...diffBody(ds, data, !select.value || select.value === ds.parent_id));
    } catch (e) {
      replace(out, h("p", {class: "error"}, `The diff could not be loaded: ${e.message}`));
    }
  };
  select.addEventListener("change", load);
  load();
}

function pathList(title, paths, cls) {
  if (!paths || !paths.length) return null;
  return h("div", {class: `paths ${cls}`}, h("h4", null, `${title} (${paths.length})`),
    h("ul", null, paths.map((p) => h("li", null, h("code", null, p)))));
}

function diffBody(ds, data, againstParent) {
  const s = data.summary || ds.diff || {};
  const lines = (data.unified || "").split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const pre = h("pre", {class: "diff", id: "unified-diff", tabindex: "0", "aria-label": "Unified diff"});
  const show = (limit) => {
    clear(pre);
    const frag = document.createDocumentFragment();
    for (const line of lines.slice(0, limit)) {
      let cls = "ctx";
      if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) cls = "file";
      else if (line.startsWith("@@")) cls = "hunk";
      else if (line.startsWith("+")) cls = "add";
      else if (line.startsWith("-")) cls = "del";
      frag.append(h("span", {class: `dl ${cls}`}, line + "\n"));
    }
    pre.append(frag);
  };
  show(MAX_LINES);
  const more = lines.length > MAX_LINES
    ? h("button", {type: "button", onclick: (e) => { show(lines.length); e.target.remove(); }},
      `Show all ${lines.length} lines`) : null;
  const stateKeys = s.state_keys_changed || [];
  return [
    againstParent ? null : h("p", {class: "muted"}, "The summary below is against the parent version; the unified diff " +
      "against the version you chose."),
    h("div", {class: "diff-stats"},
      h("span", {class: "add"}, `+${s.files_added ?? 0} added`),
      h("span", {class: "del"}, `−${s.files_removed ?? 0} removed`),
      h("span", {class: "mod"}, `~${s.files_modified ?? 0} modified`),
      s.cost_delta_usd != null ? h("span", null, `cost ${signedUsd(s.cost_delta_usd)}/month`) : null,
      s.git_commit || ds.git_commit ? h("span", {class: "muted"}, `commit ${String(s.git_commit || ds.git_commit).slice(0, 10)}`) : null),
    (s.constraint_changes || []).length ? h("div", null, h("h4", null, "Constraints changed"),
      h("ul", {class: "value-changes", id: "constraint-changes"}, s.constraint_changes.map((c) =>
        h("li", null, h("strong", null, label(c.key)), ": ", h("del", null, text(c.before)), " → ",
          h("ins", null, text(c.after)))))) : null,
    (s.component_changes || []).length ? h("div", null, h("h4", null, "Components changed"),
      h("ul", {class: "value-changes", id: "component-changes"}, s.component_changes.map((c) =>
        h("li", null, h("strong", null, label(c.key)), ": ", c.before ? pattern(c.before) : "none", " → ",
          c.after ? pattern(c.after) : "removed")))) : null,
    stateKeys.length ? h("div", null, h("h4", null, "State keys changed"),
      h("div", {class: "chips", id: "state-keys"}, stateKeys.map((k) => h("span", {class: "chip"}, label(k))))) : null,
    (s.docs_changed || []).length ? h("p", null, "Docs changed: ", s.docs_changed.join(", ")) : null,
    (s.merge_conflicts || []).length ? h("p", {class: "error"}, "Merge conflicts: ", s.merge_conflicts.join(", ")) : null,
    h("div", {class: "path-lists"},
      pathList("Added", s.paths_added, "add"), pathList("Removed", s.paths_removed, "del"),
      pathList("Modified", s.paths_modified, "mod")),
    lines.length ? h("div", {class: "diff-wrap"}, pre, more) : h("p", {class: "muted"}, "No textual changes."),
  ];
}

// ---- architecture diagram ---------------------------------------------------------------

const LAYERS = [
  ["ingest_batch", "ingest_stream"], ["stream_processing"], ["storage"], ["feature_store"], ["training"],
  ["registry"], ["serving_online", "serving_batch"], ["monitoring"],
];
const SIDE = {orchestration: ["training"], ci_cd: ["serving_online", "serving_batch", "training"]};
const PLATFORM = ["security_kms", "networking_private", "audit_logging"];

/** Text safe to place inside a quoted Mermaid label: letters, digits and a few marks only. */
function safe(text) {
  return String(text ?? "").replace(/[^A-Za-z0-9 ._:/()+-]/g, " ").replace(/\s+/g, " ").trim().slice(0, 60);
}

export function mermaidSource(plan) {
  const comps = (plan.components || []).map((c, i) => ({...c, node: `c${i}`}));
  const byCap = new Map();
  for (const c of comps) {
    if (!byCap.has(c.capability)) byCap.set(c.capability, []);
    byCap.get(c.capability).push(c);
  }
  const lines = ["flowchart LR"];
  const labelOf = (c) => `"${safe(label(c.capability))}: ${safe(LABELS.patterns[c.pattern_id] || String(c.pattern_id || "").split(":")[2] || c.service || c.name)}"`;
  const platform = comps.filter((c) => PLATFORM.includes(c.capability));
  for (const c of comps) {
    if (!PLATFORM.includes(c.capability)) lines.push(`  ${c.node}[${labelOf(c)}]`);
  }
  if (platform.length) {
    lines.push("  subgraph platform [\"platform\"]");
    for (const c of platform) lines.push(`    ${c.node}[${labelOf(c)}]`);
    lines.push("  end");
  }
  const present = LAYERS.map((caps) => caps.flatMap((cap) => byCap.get(cap) || [])).filter((l) => l.length);
  for (let i = 0; i + 1 < present.length; i++) {
    for (const a of present[i]) for (const b of present[i + 1]) lines.push(`  ${a.node} --> ${b.node}`);
  }
  for (const [cap, targets] of Object.entries(SIDE)) {
    for (const a of byCap.get(cap) || []) {
      for (const t of targets) for (const b of byCap.get(t) || []) lines.push(`  ${a.node} -.-> ${b.node}`);
    }
  }
  return lines.join("\n");
}

let mermaidLoading = null;
function loadMermaid() {
  if (window.mermaid) return Promise.resolve(window.mermaid);
  if (!mermaidLoading) {
    mermaidLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/mermaid.min.js";
      script.onload = () => {
        window.mermaid.initialize({startOnLoad: false, securityLevel: "strict", theme: "neutral", htmlLabels: false,
          flowchart: {htmlLabels: false, useMaxWidth: true}});
        resolve(window.mermaid);
      };
      script.onerror = () => reject(new Error("mermaid could not be loaded"));
      document.head.append(script);
    });
  }
  return mermaidLoading;
}

let diagramSeq = 0;

/** Renders the plan's component graph; falls back to a plain list when Mermaid is unavailable. */
export async function renderDiagram(root, plan) {
  clear(root);
  if (!plan || !(plan.components || []).length) {
    root.append(h("p", {class: "muted"}, "No plan yet."));
    return;
  }
  const source = mermaidSource(plan);
  const tools = h("div", {class: "diagram-tools", role: "toolbar", "aria-label": "Diagram"});
  const figure = h("figure", {class: "diagram", id: "architecture-diagram"}, tools,
    h("div", {class: "diagram-svg", role: "img",
      "aria-label": `Architecture on ${plan.cloud}: ${(plan.components || []).map((c) => label(c.capability)).join(", ")}`},
    h("p", {class: "muted"}, "Drawing the diagram…")),
    h("figcaption", null, `${String(plan.cloud || "").toUpperCase()} · ${(plan.regions || []).join(", ")}`));
  root.append(figure,
    h("details", null, h("summary", null, "Mermaid source"), h("pre", {class: "code"}, source)),
    componentTable(plan));
  const target = figure.querySelector(".diagram-svg");
  try {
    const mermaid = await loadMermaid();
    const {svg} = await mermaid.render(`amp-diagram-${++diagramSeq}`, source);
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    const el = doc.documentElement;
    if (el.nodeName !== "svg") throw new Error("no svg");
    el.querySelectorAll("script, foreignObject").forEach((n) => n.remove());
    for (const node of [el, ...el.querySelectorAll("*")]) {
      for (const attr of [...node.attributes]) {
        if (/^on/i.test(attr.name) || /javascript:/i.test(attr.value)) node.removeAttribute(attr.name);
      }
    }
    const svgEl = document.importNode(el, true);
    replace(target, svgEl);
    diagramTools(tools, target, svgEl, plan);
  } catch (e) {
    replace(target, h("p", {class: "muted"}, `Diagram unavailable (${e.message}); the components are listed below.`));
  }
}

/** Zoom (buttons, ctrl+wheel), pan (drag, scroll) and an SVG download for the rendered diagram. */
function diagramTools(tools, viewport, svg, plan) {
  const box = (svg.getAttribute("viewBox") || "").split(/\s+/).map(Number);
  const natural = box.length === 4 && box[2] > 0 ? box[2] : svg.getBBox().width || 800;
  svg.removeAttribute("style");
  svg.removeAttribute("height");
  let scale = Math.max(1, Math.min(1.6, 900 / natural));  // readable by default: at least its natural size
  const apply = () => {
    svg.setAttribute("width", String(Math.round(natural * scale)));
    zoomLabel.textContent = `${Math.round(scale * 100)}%`;
  };
  const zoom = (f) => { scale = Math.max(0.25, Math.min(4, scale * f)); apply(); };
  const zoomLabel = h("span", {class: "muted zoom-level", "aria-live": "polite"});
  const download = () => {
    const text = new XMLSerializer().serializeToString(svg);
    const url = URL.createObjectURL(new Blob([text], {type: "image/svg+xml"}));
    const a = h("a", {href: url, download: `architecture-${plan.cloud || "plan"}.svg`});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  };
  replace(tools,
    h("button", {type: "button", class: "secondary", "aria-label": "Zoom out", onclick: () => zoom(1 / 1.25)}, "−"),
    zoomLabel,
    h("button", {type: "button", class: "secondary", "aria-label": "Zoom in", onclick: () => zoom(1.25)}, "+"),
    h("button", {type: "button", class: "secondary", onclick: () => {
      scale = Math.max(0.25, (viewport.clientWidth - 16) / natural); apply();
    }}, "Fit"),
    h("button", {type: "button", class: "secondary", id: "diagram-download", onclick: download}, "Download SVG"));
  viewport.addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1);
  }, {passive: false});
  let drag = null;
  viewport.addEventListener("pointerdown", (e) => {
    drag = {x: e.clientX, y: e.clientY, left: viewport.scrollLeft, top: viewport.scrollTop};
    viewport.setPointerCapture(e.pointerId);
  });
  viewport.addEventListener("pointermove", (e) => {
    if (!drag) return;
    viewport.scrollLeft = drag.left - (e.clientX - drag.x);
    viewport.scrollTop = drag.top - (e.clientY - drag.y);
  });
  viewport.addEventListener("pointerup", () => { drag = null; });
  apply();
}

function componentTable(plan) {
  return h("div", {class: "table-wrap"}, h("table", {class: "components"},
    h("thead", null, h("tr", null, ["Capability", "Service", "Deployment", "Regions", "Why"].map((t) =>
      h("th", {scope: "col"}, t)))),
    h("tbody", null, (plan.components || []).map((c) => h("tr", null,
      h("th", {scope: "row"}, label(c.capability)),
      h("td", null, c.service || c.name || c.pattern_id, h("div", {class: "muted"}, c.pattern_id)),
      h("td", null, c.deployment || ""),
      h("td", null, (c.regions || []).join(", ")),
      h("td", null, c.justification || "",
        (c.candidates || []).length > 1 ? h("div", {class: "muted"},
          `Also considered: ${c.candidates.filter((x) => x.id !== c.pattern_id).map((x) => x.id).join(", ")}`) : null))))));
}

