// Project settings: the project's webhooks (subscriptions, the secret shown once, rotation) and their
// delivery log (attempts, status codes, latency, next retry, redeliver).

import {api} from "./api.js";
import {$, badge, clear, h, replace, when} from "./dom.js";

export function renderSettings(root, ctx) {
  const {project, banner} = ctx;
  const list = h("div", {id: "webhook-list", class: "stack"});
  const secretBox = h("div", {id: "webhook-secret", "aria-live": "polite"});
  const form = h("form", {id: "webhook-form", class: "stack-sm"});
  let alive = true;

  replace(root,
    h("section", {class: "card", "aria-labelledby": "settings-title"},
      h("p", {class: "crumbs"}, h("a", {href: `#/projects/${project.id}`}, project.name), " › settings"),
      h("h1", {id: "settings-title"}, `Settings of ${project.name}`)),
    h("section", {class: "card stack", "aria-labelledby": "webhooks-title"},
      h("h2", {id: "webhooks-title"}, "Webhooks"),
      h("p", {class: "muted"}, "Deliveries follow the Standard Webhooks specification: a JSON body {type, timestamp, " +
        "data}, signed with the subscription's secret (headers webhook-id, webhook-timestamp, webhook-signature). " +
        "Failed deliveries are retried for about 17 hours; a 410 answer disables the subscription."),
      form, secretBox, list));

  async function load() {
    try {
      const [types, hooks] = await Promise.all([api.webhookEventTypes(), api.webhooks(project.id)]);
      if (!alive) return;
      buildForm(types.event_types);
      renderList(hooks.webhooks);
    } catch (e) {
      banner(`Webhooks could not be loaded: ${e.message}`, "error");
    }
  }

  function buildForm(types) {
    const checks = h("fieldset", {class: "checks"}, h("legend", null, "Events"),
      types.map((t) => h("label", {class: "check", title: t.description},
        h("input", {type: "checkbox", name: "events", value: t.type, checked: true}), " ", t.type)));
    const status = h("p", {class: "form-status", role: "status"});
    replace(form,
      h("div", {class: "field"}, h("label", {for: "webhook-url"}, "Endpoint URL (https://)"),
        h("input", {id: "webhook-url", type: "url", required: true, maxlength: 2048, placeholder: "https://example.com/amp-hook",
          autocomplete: "off"})),
      h("div", {class: "field"}, h("label", {for: "webhook-description"}, "Description"),
        h("input", {id: "webhook-description", maxlength: 500, placeholder: "e.g. #ml-reviews channel"})),
      checks,
      h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, "Add webhook"), status));
    form.onsubmit = async (event) => {
      event.preventDefault();
      const events = [...form.querySelectorAll("input[name=events]:checked")].map((i) => i.value);
      status.textContent = "";
      try {
        const hook = await api.createWebhook(project.id, {url: $("#webhook-url").value.trim(), events,
          description: $("#webhook-description").value.trim()});
        $("#webhook-url").value = "";
        $("#webhook-description").value = "";
        showSecret(hook, "created");
        renderList((await api.webhooks(project.id)).webhooks);
      } catch (e) {
        status.textContent = e.message;
        status.className = "form-status error";
      }
    };
  }

  function showSecret(hook, what) {
    replace(secretBox, h("div", {class: "gate", role: "alert"},
      h("h3", null, `Webhook ${what}: its signing secret (shown only now)`),
      h("p", null, "Give it to the receiver; it verifies each delivery with it."),
      h("pre", {class: "code", id: "webhook-secret-value"}, hook.secret),
      h("button", {type: "button", onclick: () => clear(secretBox)}, "I have stored it")));
  }

  function renderList(hooks) {
    clear(list);
    if (!hooks.length) {
      list.append(h("p", {class: "muted"}, "No webhooks yet."));
      return;
    }
    for (const hook of hooks) list.append(hookCard(hook));
  }

  function hookCard(hook) {
    const log = h("div", {class: "webhook-deliveries"});
    const counts = Object.entries(hook.deliveries || {}).map(([k, v]) => `${k} ${v}`).join(" · ");
    const act = (label, fn, cls) => h("button", {type: "button", class: cls || null, onclick: async () => {
      try {
        await fn();
      } catch (e) {
        banner(`${label}: ${e.message}`, "error");
      }
    }}, label);
    const refresh = async () => renderList((await api.webhooks(project.id)).webhooks);
    return h("article", {class: "card webhook", dataset: {webhookId: hook.id}},
      h("div", {class: "card-head"},
        h("h3", null, h("code", null, hook.url)),
        hook.enabled ? badge("enabled", "ok") : badge("disabled", "fail")),
      hook.disabled_reason ? h("p", {class: "hint"}, hook.disabled_reason) : null,
      hook.description ? h("p", null, hook.description) : null,
      h("p", {class: "muted"}, `Events: ${hook.events.join(", ")}`, counts ? ` — deliveries: ${counts}` : ""),
      h("div", {class: "actions"},
        act("Deliveries", () => showLog(hook, log)),
        hook.enabled ? act("Disable", async () => { await api.patchWebhook(project.id, hook.id, {enabled: false}); await refresh(); })
          : act("Enable", async () => { await api.patchWebhook(project.id, hook.id, {enabled: true}); await refresh(); }),
        act("Rotate secret", async () => {
          showSecret(await api.rotateWebhookSecret(project.id, hook.id, 86400), "secret rotated (the old one signs for one more day)");
        }),
        act("Delete", async () => {
          if (!confirm(`Delete the webhook to ${hook.url} and its delivery log?`)) return;
          await api.deleteWebhook(project.id, hook.id);
          await refresh();
        }, "danger")),
      log);
  }

  async function showLog(hook, box) {
    const rows = (await api.webhookDeliveries(project.id, hook.id)).deliveries;
    if (!rows.length) {
      replace(box, h("p", {class: "muted"}, "No deliveries yet."));
      return;
    }
    const table = h("table", null,
      h("thead", null, h("tr", null, ["Event", "State", "Attempts", "Status codes", "Latency", "Next retry", "Last error", ""]
        .map((c) => h("th", {scope: "col"}, c)))),
      h("tbody", null, rows.map((d) => {
        const attempts = d.attempt_log || [];
        const last = attempts[attempts.length - 1];
        return h("tr", {dataset: {deliveryId: d.id}},
          h("td", null, d.event_type, h("br"), h("small", {class: "muted"}, when(d.created_at))),
          h("td", null, badge(d.state, d.state === "delivered" ? "ok" : d.state === "failed" ? "fail" : "warn")),
          h("td", null, String(d.attempts)),
          h("td", null, attempts.map((a) => a.status_code ?? "—").join(" ")),
          h("td", null, last && last.latency_ms != null ? `${Math.round(last.latency_ms)} ms` : ""),
          h("td", null, d.state === "pending" ? when(d.next_attempt_at) : ""),
          h("td", null, d.last_error || ""),
          h("td", null, h("button", {type: "button", onclick: async () => {
            try {
              await api.redeliver(project.id, hook.id, d.id);
              banner(`Delivery of ${d.event_type} queued again.`);
              await showLog(hook, box);
            } catch (e) {
              banner(`Redeliver: ${e.message}`, "error");
            }
          }}, "Redeliver")));
      })));
    replace(box, h("div", {class: "table-wrap"}, table));
  }

  load();
  return {destroy: () => { alive = false; }};
}
