// The gateway's REST API. Errors arrive as {"error": {code, message, ...}} and are thrown as ApiError.

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// The session is an HttpOnly cookie the sign-in page set; writes add a header no cross-site form can send.
async function request(method, path, body) {
  const init = {method, credentials: "same-origin", headers: {Accept: "application/json", "X-AMP-Request": "1"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", "The server cannot be reached: " + e.message, null);
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await response.json().catch(() => null) : await response.text();
  if (response.status === 401) {
    window.location.assign("/signin");
  }
  if (!response.ok) {
    const err = data && typeof data === "object" && data.error ? data.error : {};
    let message = err.message || (typeof data === "string" && data) || response.statusText;
    if (Array.isArray(err.details) && err.code === "validation_failed") {
      const more = err.details.map((d) => d.msg || d.message).filter(Boolean).join("; ");
      if (more) message += ": " + more;
    }
    throw new ApiError(response.status, err.code || "error", message, data);
  }
  return data;
}

export const api = {
  pipeline: () => request("GET", "/pipeline"),
  projects: () => request("GET", "/projects"),
  project: (id) => request("GET", `/projects/${encodeURIComponent(id)}`),
  createProject: (name, description = "") => request("POST", "/projects", {name, description}),
  submit: (projectId, text, constraints = {}) =>
    request("POST", `/projects/${encodeURIComponent(projectId)}/constraints`, {text, constraints}),
  preview: (text) => request("POST", "/intake/preview", {text}),
  schema: () => request("GET", "/intake/schema"),
  decisionSet: (id) => request("GET", `/decision-sets/${encodeURIComponent(id)}`),
  events: (id, after = 0) => request("GET", `/decision-sets/${encodeURIComponent(id)}/events?after=${after}`),
  answer: (id, body) => request("POST", `/decision-sets/${encodeURIComponent(id)}/answers`, body),
  approve: (id, body) => request("POST", `/decision-sets/${encodeURIComponent(id)}/approve`, body),
  resume: (id) => request("POST", `/decision-sets/${encodeURIComponent(id)}/resume`, {}),
  setBudget: (projectId, limitUsd) =>
    request("PUT", `/projects/${encodeURIComponent(projectId)}/llm-budget`, {limit_usd: limitUsd}),
  diff: (id, against) =>
    request("GET", `/decision-sets/${encodeURIComponent(id)}/diff?format=json` +
      (against ? `&against=${encodeURIComponent(against)}` : "")),
  webhookEventTypes: () => request("GET", "/webhooks/event-types"),
  webhooks: (projectId) => request("GET", `/projects/${encodeURIComponent(projectId)}/webhooks`),
  createWebhook: (projectId, body) => request("POST", `/projects/${encodeURIComponent(projectId)}/webhooks`, body),
  patchWebhook: (projectId, id, body) =>
    request("PATCH", `/projects/${encodeURIComponent(projectId)}/webhooks/${encodeURIComponent(id)}`, body),
  deleteWebhook: (projectId, id) =>
    request("DELETE", `/projects/${encodeURIComponent(projectId)}/webhooks/${encodeURIComponent(id)}`),
  rotateWebhookSecret: (projectId, id, overlapS) =>
    request("POST", `/projects/${encodeURIComponent(projectId)}/webhooks/${encodeURIComponent(id)}/rotate-secret`,
      {overlap_s: overlapS}),
  webhookDeliveries: (projectId, id) =>
    request("GET", `/projects/${encodeURIComponent(projectId)}/webhooks/${encodeURIComponent(id)}/deliveries`),
  redeliver: (projectId, id, deliveryId) =>
    request("POST", `/projects/${encodeURIComponent(projectId)}/webhooks/${encodeURIComponent(id)}/deliveries/` +
      `${encodeURIComponent(deliveryId)}/redeliver`, {}),
  me: () => request("GET", "/me"),
  signOut: () => request("DELETE", "/auth/session"),
  streamUrl: (id, after) => `/streams/${encodeURIComponent(id)}` + (after ? `?after=${after}` : ""),
  artifactUrl: (id) => `/decision-sets/${encodeURIComponent(id)}/artifact`,
};
