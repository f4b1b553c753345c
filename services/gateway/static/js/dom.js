// Small DOM helpers. Everything that comes from the user or the API is set with textContent
// or as an attribute value, never parsed as HTML.

/**
 * h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child, [more])
 * Strings and numbers become text nodes; null/undefined/false children are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "class") {
        el.className = value;
      } else if (key === "dataset") {
        Object.assign(el.dataset, value);
      } else if (key === "style" && typeof value === "object") {
        Object.assign(el.style, value);
      } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled" || key === "hidden") {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

export function usd(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "–";
  return "$" + Number(n).toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
}

export function signedUsd(n) {
  if (n === null || n === undefined) return "–";
  const v = Number(n);
  return (v > 0 ? "+" : v < 0 ? "−" : "±") + usd(Math.abs(v));
}

export function pct(n, digits = 0) {
  if (n === null || n === undefined) return "–";
  return (Number(n) * 100).toFixed(digits) + "%";
}

export function when(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return d.toLocaleString(undefined, {dateStyle: "medium", timeStyle: "medium"});
}

export function time(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return d.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit", second: "2-digit"});
}

/** A human label for a constraint field or node name: "budget_monthly_usd" -> "budget monthly usd". */
/** Human labels of fields, capabilities and catalog patterns (filled from `GET /pipeline` at start). */
export const LABELS = {fields: {}, capabilities: {}, patterns: {}};

export function label(name) {
  const key = String(name ?? "");
  return LABELS.fields[key] || LABELS.capabilities[key] || key.replace(/[_-]+/g, " ");
}

/** A catalog pattern by its name, its id on hover. */
export function pattern(id) {
  const name = LABELS.patterns[id];
  return name ? h("span", {class: "pattern", title: id}, name) : h("code", null, id);
}

/** Any JSON value as short text (objects as "label: value" pairs, never raw JSON). */
export function show(value) {
  if (value === null || value === undefined) return "–";
  if (Array.isArray(value)) return value.map(show).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${label(k)}: ${show(v)}`).join("; ");
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

/** Any JSON value as readable markup: objects as definition lists, lists of objects as tables. */
export function render(value, depth = 0) {
  if (value === null || value === undefined || typeof value !== "object") return show(value);
  if (Array.isArray(value)) {
    if (value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v)) && depth < 3) {
      const cols = [...new Set(value.flatMap((v) => Object.keys(v)))];
      return h("table", {class: "kv-table"},
        h("thead", null, h("tr", null, cols.map((c) => h("th", null, label(c))))),
        h("tbody", null, value.map((row) => h("tr", null, cols.map((c) => h("td", null, render(row[c], depth + 1)))))));
    }
    return show(value);
  }
  if (depth >= 3) return show(value);
  return h("dl", {class: "kv"}, Object.entries(value).map(([k, v]) => [h("dt", null, label(k)), h("dd", null, render(v, depth + 1))]));
}

export function badge(text, kind = "") {
  return h("span", {class: `badge ${kind}`.trim()}, text);
}
