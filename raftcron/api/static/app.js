// raftcron dashboard: plain JS polling the JSON API of the peer that served it.
// Everything from the API is inserted with textContent, never as HTML.
"use strict";

const POLL_MS = 5000;
const STRIP_RUNS = 20;
const STRIP_JOBS = 50;          // history strips are fetched for at most this many jobs
const SKEW_WARN_SECONDS = 1.0;  // the default of /status's max_clock_skew
let selectedJob = null;
let selectedRun = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  }
  return node;
}

// A peer with a read token answers 401 to reads without one: ask once, and keep the token
// for this tab only (sessionStorage). Any valid token reads; env values stay redacted here.
const TOKEN_KEY = "raftcron-token";
let tokenRefused = false;

async function getJSON(path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(path, { headers });
  if (resp.status === 401 && !tokenRefused) {
    const given = window.prompt("This peer needs a token to read (its read, write or admin token):");
    if (given && given.trim()) {
      sessionStorage.setItem(TOKEN_KEY, given.trim());
      return getJSON(path);
    }
    tokenRefused = true;  // cancelled: show the error instead of asking on every poll
  }
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function relative(iso) {
  if (!iso) return "";
  const secs = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const abs = Math.abs(secs);
  const text = abs < 90 ? abs + "s" : abs < 5400 ? Math.round(abs / 60) + "m"
    : abs < 172800 ? Math.round(abs / 3600) + "h" : Math.round(abs / 86400) + "d";
  return secs >= 0 ? "in " + text : text + " ago";
}

function timeCell(iso, cls) {
  if (!iso) return el("td", { class: cls }, "—");
  return el("td", { class: cls, title: relative(iso) }, iso,
    el("span", { class: "note" }, " (" + relative(iso) + ")"));
}

function replaceRows(table, rows) {
  const body = document.querySelector(table + " tbody");
  body.replaceChildren(...rows);
}

function showError(message) {
  const box = document.getElementById("fetch-error");
  box.hidden = !message;
  box.textContent = message || "";
}

function renderStatus(st) {
  const parts = [
    "peer " + st.id, "role " + st.role, "leader " + (st.leader || "none"),
    "term " + st.term, "commit " + st.commit_index, "applied " + st.applied_index,
    "lag " + (st.apply_lag ?? 0),
  ];
  document.getElementById("peer-summary").textContent = parts.join(" · ");
  const warnings = [];
  if (!st.leader) warnings.push("No leader: schedules are not firing.");
  // clock_offset: this peer's clock minus the majority's; peers[].clock_skew: that peer's
  // clock minus this one's (their offset from the majority: skew + own offset).
  const limit = typeof st.max_clock_skew === "number" ? st.max_clock_skew : SKEW_WARN_SECONDS;
  const own = st.clock_offset;
  if (typeof own === "number" && Math.abs(own) > limit) {
    warnings.push("Clock skew of " + own.toFixed(2) + " s on this peer (off the majority's).");
  }
  for (const p of st.peers || []) {
    const value = p.clock_skew;
    if (!p.self && typeof value === "number" && Math.abs(value + (own || 0)) > limit) {
      warnings.push("Clock skew of " + value.toFixed(2) + " s on " + p.id + ".");
    }
  }
  if (st.role === "leader" && st.firing === false && st.firing_reason) {
    warnings.push("Not firing: " + st.firing_reason + ".");
  }
  const box = document.getElementById("warnings");
  box.hidden = warnings.length === 0;
  box.textContent = warnings.join(" ");
}

function peerLag(n, st) {
  // The leader knows how far each follower's log matches; every peer knows its own apply lag.
  if (n.match_index != null) return Math.max(0, st.commit_index - n.match_index);
  if (n.self) return st.apply_lag ?? 0;
  return "—";
}

function renderCluster(nodes, st) {
  replaceRows("#cluster", nodes.map((n) => el("tr", { "data-node": n.name },
    el("td", {}, n.name + (n.leader ? " ★ leader" : "") + (n.self ? " (this peer)" : "")),
    el("td", {}, n.kind),
    el("td", {}, (n.roles || []).join(", ")),
    el("td", { class: n.healthy ? "healthy" : "unhealthy" }, n.healthy ? "up" : "down"),
    el("td", {}, n.load == null ? "—" : Math.round(n.load * 100) + "%"),
    el("td", {}, n.active_runs ?? 0),
    el("td", { class: "lag" }, n.kind === "peer" ? peerLag(n, st) : ""),
    el("td", {}, n.api || ""))));
}

function strip(runs) {
  const box = el("div", { class: "strip" });
  for (const r of runs.slice().reverse()) {
    box.append(el("span", {
      class: "cell status-" + r.status,
      title: r.slot + " " + r.status + (r.exit_code != null ? " (exit " + r.exit_code + ")" : ""),
      onclick: (ev) => { ev.stopPropagation(); showRun(r); },
    }));
  }
  return box;
}

function scheduleText(s) {
  return typeof s === "string" ? s : JSON.stringify(s);
}

async function renderJobs(jobs) {
  const histories = await Promise.all(jobs.slice(0, STRIP_JOBS).map((j) =>
    getJSON("/runs?job=" + encodeURIComponent(j.name) + "&limit=" + STRIP_RUNS)
      .then((p) => p.items).catch(() => [])));
  document.getElementById("jobs-empty").hidden = jobs.length > 0;
  replaceRows("#jobs", jobs.map((j, i) => {
    const last = j.last_run || (histories[i] || [])[0];
    const row = el("tr", { class: "clickable" + (j.name === selectedJob ? " selected" : ""),
                           "data-job": j.name, onclick: () => selectJob(j.name) },
      el("td", { class: "job-name" }, j.name),
      el("td", { class: "job-status" }, j.status),
      el("td", {}, scheduleText(j.schedule) + (j.tz && j.tz !== "UTC" ? " (" + j.tz + ")" : "")),
      timeCell(j.next_run, "next-run"),
      el("td", { class: "last-outcome" },
        last ? last.status + (last.finished_at ? " " + relative(last.finished_at) : "") : "—"),
      el("td", {}, strip(histories[i] || [])));
    return row;
  }));
}

function field(dl, name, value, cls) {
  dl.append(el("dt", {}, name), el("dd", cls ? { class: cls } : {}, value));
}

async function renderJobDetail() {
  const section = document.getElementById("job-detail");
  if (!selectedJob) { section.hidden = true; return; }
  const [job, runs] = await Promise.all([
    getJSON("/jobs/" + encodeURIComponent(selectedJob)),
    getJSON("/runs?job=" + encodeURIComponent(selectedJob) + "&limit=50"),
  ]);
  section.hidden = false;
  document.getElementById("job-detail-name").textContent = job.name;
  const dl = document.getElementById("job-fields");
  dl.replaceChildren();
  for (const key of ["description", "status", "schedule", "tz", "type", "command", "cwd",
                     "user", "timeout", "retries", "concurrency", "catchup", "jitter",
                     "hosts", "roles", "labels", "version", "created_at", "updated_at"]) {
    const v = job[key];
    if (v == null || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    field(dl, key, typeof v === "object" ? JSON.stringify(v) : v);
  }
  field(dl, "next runs", (job.next_runs || []).join("\n") || "—", "next-runs");
  // Environment values may hold secrets: show the names only.
  for (const name of Object.keys(job.env || {})) {
    field(dl, "env " + name, "••• (redacted)", "redacted");
  }
  if (job.script) field(dl, "script", "(" + job.script.length + " base64 chars, not shown)");
  replaceRows("#runs", runs.items.map((r) => el("tr", {
    class: "clickable" + (r.id === selectedRun ? " selected" : ""), "data-run": r.id,
    onclick: () => showRun(r) },
    el("td", {}, r.id), el("td", {}, r.slot), el("td", {}, r.attempt),
    el("td", {}, r.peer || ""), el("td", {}, r.target || ""),
    el("td", {}, el("span", { class: "badge status-" + r.status }, r.status)),
    el("td", {}, r.exit_code ?? ""), el("td", {}, r.reason || ""))));
}

function selectJob(name) {
  selectedJob = name;
  saveHash();
  refresh();
}

// The selection lives in the URL (#job=NAME&run=ID), so a view can be linked and reloaded.
function saveHash() {
  const parts = [];
  if (selectedJob) parts.push("job=" + encodeURIComponent(selectedJob));
  if (selectedRun) parts.push("run=" + encodeURIComponent(selectedRun));
  history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname);
}

function loadHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  selectedJob = params.get("job");
  return params.get("run");
}

async function showRun(run) {
  selectedRun = run.id;
  saveHash();
  document.getElementById("run-output").hidden = false;
  document.getElementById("run-output-id").textContent = run.id + " (" + run.status + ")";
  const note = document.getElementById("run-output-note");
  try {
    const out = await getJSON("/runs/" + encodeURIComponent(run.id) + "/output");
    document.getElementById("run-stdout").textContent = out.stdout;
    document.getElementById("run-stderr").textContent = out.stderr;
    note.textContent = "Whole output, from " + (run.peer || "the executing peer") + ".";
  } catch (err) {
    document.getElementById("run-stdout").textContent = run.stdout_tail || "";
    document.getElementById("run-stderr").textContent = run.stderr_tail || "";
    note.textContent = "Replicated tail only (" + err.message + ").";
  }
}

async function refresh() {
  try {
    const [st, nodes, jobs] = await Promise.all([
      getJSON("/status"), getJSON("/nodes"), getJSON("/jobs?limit=200"),
    ]);
    renderStatus(st);
    renderCluster(nodes.items, st);
    await renderJobs(jobs.items);
    await renderJobDetail();
    showError(null);
  } catch (err) {
    showError("Cannot reach the API: " + err.message);
  }
}

async function start() {
  const runId = loadHash();
  await refresh();
  if (runId) {
    try {
      await showRun(await getJSON("/runs/" + encodeURIComponent(runId)));
    } catch (err) {
      showError("Run " + runId + ": " + err.message);
    }
  }
  setInterval(refresh, POLL_MS);
}

start();
