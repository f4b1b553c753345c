// Entry point: hash routing, the projects/versions sidebar and the global banner.
//   #/                 -> start page (Quick Start / Guided Setup, creates a project on submit)
//   #/projects/{id}    -> a project: its versions and a form for the next version
//   #/projects/{id}/settings -> the project's settings: webhooks and their delivery log
//   #/ds/{id}          -> one decision-set version: live timeline, gates, panels, diff (time travel)

import {api} from "./api.js";
import {$, badge, clear, h, replace, usd, when} from "./dom.js";
import {renderEntry} from "./entry.js";
import {DecisionSetView} from "./run.js";
import {renderSettings} from "./settings.js";
import {usePipeline} from "./timeline.js";

const state = {
  projects: [],
  project: null, // the selected project, with decision_sets
  current: null, // the active view object (has .destroy())
  dsId: null,
};

export function banner(message, kind = "info") {
  const el = $("#banner");
  if (!message) {
    clear(el);
    el.className = "banner";
    return;
  }
  el.className = `banner ${kind}`;
  replace(el, h("span", null, message),
    h("button", {type: "button", class: "link", "aria-label": "Dismiss message", onclick: () => banner(null)}, "✕"));
}

/** Goes to `hash`; `flash` is a message shown on the page that opens there. */
export function navigate(hash, flash) {
  if (flash) sessionStorage.setItem("amp.flash", flash);
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function loadProjects() {
  try {
    const data = await api.projects();
    state.projects = data.projects || [];
  } catch (e) {
    banner(`Projects could not be loaded: ${e.message}`, "error");
  }
  renderProjects();
}

function renderProjects() {
  const list = $("#project-list");
  clear(list);
  if (!state.projects.length) {
    list.append(h("li", {class: "muted"}, "No projects yet."));
    return;
  }
  for (const p of state.projects) {
    const active = state.project && state.project.id === p.id;
    list.append(h("li", null,
      h("a", {href: `#/projects/${p.id}`, class: active ? "active" : null, "aria-current": active ? "page" : null},
        h("span", {class: "nav-title"}, p.name),
        h("span", {class: "nav-meta"}, `${p.version_count ?? 0} version${p.version_count === 1 ? "" : "s"}`))));
  }
}

export async function loadProject(projectId) {
  try {
    state.project = await api.project(projectId);
  } catch (e) {
    state.project = null;
    banner(`Project could not be loaded: ${e.message}`, "error");
  }
  renderVersions();
  renderProjects();
  return state.project;
}

function renderVersions() {
  const section = $("#versions-section");
  const list = $("#version-list");
  clear(list);
  const p = state.project;
  if (!p) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  $("#versions-heading").textContent = `Versions of ${p.name}`;
  $("#project-settings-link").href = `#/projects/${p.id}/settings`;
  const sets = [...(p.decision_sets || [])].sort((a, b) => b.version - a.version);
  if (!sets.length) list.append(h("li", {class: "muted"}, "No versions yet."));
  for (const ds of sets) {
    const active = state.dsId === ds.id;
    list.append(h("li", null,
      h("a", {href: `#/ds/${ds.id}`, class: active ? "active" : null, "aria-current": active ? "page" : null,
        dataset: {version: ds.version}},
        h("span", {class: "nav-title"}, `v${ds.version} `, badge(ds.status, `status-${ds.status}`)),
        h("span", {class: "nav-meta"},
          [ds.monthly_usd != null ? `${usd(ds.monthly_usd)}/mo` : null,
            ds.policy_overall ? `policy ${ds.policy_overall}` : null, when(ds.created_at)].filter(Boolean).join(" · ")))));
  }
}

/** Called by views when a decision set changed: refresh the version list of its project. */
export async function refreshProject(projectId) {
  if (!projectId) return;
  await loadProject(projectId);
  const known = state.projects.find((p) => p.id === projectId);
  if (!known || known.version_count !== (state.project?.decision_sets?.length ?? 0)) await loadProjects();
  return state.project;
}

export function currentProject() {
  return state.project;
}

export async function projectCreated(project) {
  await loadProjects();
  state.project = {...project, decision_sets: []};
  renderVersions();
}

async function route() {
  if (state.current) state.current.destroy();
  state.current = null;
  banner(null);
  const flash = sessionStorage.getItem("amp.flash");
  if (flash) {
    sessionStorage.removeItem("amp.flash");
    banner(flash);
  }
  closeNav();
  const view = $("#view");
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  // the start page has its own project-name field: one on the page, not two
  $("#new-project-form").hidden = parts.length === 0;
  try {
    if (parts[0] === "ds" && parts[1]) {
      state.dsId = parts[1];
      state.current = new DecisionSetView(view, parts[1], {navigate, banner, refreshProject, loadProject});
      await state.current.start();
      return;
    }
    state.dsId = null;
    if (parts[0] === "projects" && parts[1]) {
      const project = await loadProject(parts[1]);
      if (!project) {
        replace(view, h("p", null, "This project does not exist."));
        return;
      }
      if (parts[2] === "settings") {
        state.current = renderSettings(view, {project, banner, navigate});
        return;
      }
      const prefill = sessionStorage.getItem("amp.prefill") || "";
      sessionStorage.removeItem("amp.prefill");
      state.current = renderEntry(view, {project, prefill, navigate, banner, onProjectCreated: projectCreated});
      return;
    }
    state.project = null;
    renderVersions();
    renderProjects();
    state.current = renderEntry(view, {project: null, prefill: "", navigate, banner, onProjectCreated: projectCreated});
  } finally {
    const main = $("#main");
    if (document.activeElement === document.body || !document.activeElement) main.focus({preventScroll: true});
  }
}

function closeNav() {
  const sidebar = $("#sidebar");
  sidebar.classList.remove("open");
  $("#nav-toggle").setAttribute("aria-expanded", "false");
}

async function init() {
  $("#nav-toggle").addEventListener("click", () => {
    const open = !$("#sidebar").classList.contains("open");
    $("#sidebar").classList.toggle("open", open);
    $("#nav-toggle").setAttribute("aria-expanded", String(open));
    if (open) $("#new-project-name").focus();
  });
  $("#new-project-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("#new-project-name");
    const name = input.value.trim();
    if (!name) return;
    try {
      const project = await api.createProject(name);
      input.value = "";
      await projectCreated(project);
      navigate(`#/projects/${project.id}`);
    } catch (e) {
      banner(`The project could not be created: ${e.message}`, "error");
    }
  });
  window.addEventListener("hashchange", route);
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api.signOut().catch(() => null);
    window.location.assign("/signin");
  });
  api.me().then((me) => {
    document.getElementById("whoami").textContent = me.name || me.email || me.user_id;
  }).catch(() => null);
  try {
    usePipeline(await api.pipeline());
  } catch (e) {
    banner(`The pipeline description could not be loaded: ${e.message}`, "error");
  }
  loadProjects();
  route();
}

init();
