// raftcron dashboard, core: the API client (with the token), the router, shared helpers.
// Plain JS, no build step. Everything from the API is inserted with textContent, never as
// HTML. views.js and forms.js register the views; start() runs once every script is loaded.
"use strict";

const POLL_MS = 5000;
const SKEW_WARN_SECONDS = 1.0;  // the default of /status's max_clock_skew
const LAG_WARN_ENTRIES = 5;     // /readyz's bound: a peer further behind is not ready
const TOKEN_KEY = "raftcron-token";
const VIEWS = {};               // name -> {render(params, root), refresh?(params, root)}
let current = null;             // {name, params, root, timer}

function el(tag, attrs, ...children) {
  const svg = tag.startsWith("svg:");
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") node.setAttribute("class", v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// --- the token: asked once in the page, kept for this browser session -------------------

function token() { return sessionStorage.getItem(TOKEN_KEY); }

// Shows the token box with `why` and resolves with the token given, or null when dismissed.
function askToken(why) {
  const box = document.getElementById("token-box");
  const input = document.getElementById("token-input");
  document.getElementById("token-why").textContent = why;
  box.hidden = false;
  input.value = "";
  input.focus();
  return new Promise((resolve) => {
    const done = (value) => {
      box.hidden = true;
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      resolve(value);
    };
    const form = document.getElementById("token-form");
    const cancel = document.getElementById("token-cancel");
    const onSubmit = (ev) => {
      ev.preventDefault();
      const given = input.value.trim();
      if (given) sessionStorage.setItem(TOKEN_KEY, given);
      done(given || null);
    };
    const onCancel = () => done(null);
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
  });
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || ("HTTP " + status));
    this.status = status;
    this.field = body ? body.field : null;
  }
}

// One API call. A 401 asks for the token once (reads: the read token if the cluster needs
// one; writes: the write token) and retries; any other error is thrown as an ApiError.
async function request(method, path, body, asked) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401 && !asked) {
    const why = method === "GET" ? "This cluster needs a token to read (read, write or admin)."
      : "This change needs the write token.";
    if (await askToken(why)) return request(method, path, body, true);
  }
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, typeof data === "object" ? data : null);
  return data;
}

const api = {
  get: (path) => request("GET", path),
  post: (path, body) => request("POST", path, body === undefined ? {} : body),
  put: (path, body) => request("PUT", path, body),
  del: (path) => request("DELETE", path),
};

// A fetch() with the token, for streams and downloads (the body is the caller's).
async function rawFetch(path, signal) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  let resp = await fetch(path, { headers, signal });
  if (resp.status === 401 && await askToken("This cluster needs a token to read.")) {
    headers.Authorization = "Bearer " + token();
    resp = await fetch(path, { headers, signal });
  }
  return resp;
}

// --- formatting -------------------------------------------------------------------------

function enc(s) { return encodeURIComponent(s); }

function relative(iso) {
  if (!iso) return "";
  const secs = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const abs = Math.abs(secs);
  const text = abs < 90 ? abs + "s" : abs < 5400 ? Math.round(abs / 60) + "m"
    : abs < 172800 ? Math.round(abs / 3600) + "h" : Math.round(abs / 86400) + "d";
  return secs >= 0 ? "in " + text : text + " ago";
}

function timeText(iso) {
  return iso ? iso + " (" + relative(iso) + ")" : "—";
}

function seconds(a, b) {
  if (!a || !b) return null;
  return Math.max(0, (Date.parse(b) - Date.parse(a)) / 1000);
}

function durationText(secs) {
  if (secs == null) return "—";
  if (secs < 60) return secs.toFixed(secs < 10 ? 2 : 1) + " s";
  if (secs < 3600) return Math.floor(secs / 60) + "m " + Math.round(secs % 60) + "s";
  return Math.floor(secs / 3600) + "h " + Math.round((secs % 3600) / 60) + "m";
}

function bytesText(n) {
  if (n == null) return "—";
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}

function badge(status) {
  return el("span", { class: "badge status-" + status }, status);
}

function link(href, text) { return el("a", { href }, text); }

// A message line in a view: kind "ok" or "error"; an empty text hides it.
function say(box, text, kind) {
  box.hidden = !text;
  box.className = "message " + (kind || "ok");
  box.textContent = text || "";
}

// --- header: this peer, warnings --------------------------------------------------------

function clusterWarnings(st, peers) {
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
    if (!p.self && p.reachable === false) warnings.push(p.id + " is unreachable.");
    if (p.match_index != null && st.commit_index - p.match_index > LAG_WARN_ENTRIES) {
      warnings.push(p.id + " is " + (st.commit_index - p.match_index) + " entries behind.");
    }
  }
  for (const [id, other] of Object.entries(peers || {})) {
    if (other && other.apply_lag > LAG_WARN_ENTRIES) {
      warnings.push(id + " has " + other.apply_lag + " entries left to apply.");
    }
  }
  if (st.role === "leader" && st.firing === false && st.firing_reason) {
    warnings.push("Not firing: " + st.firing_reason + ".");
  }
  return warnings;
}

function renderHeader(st, peers) {
  const parts = ["peer " + st.id, "role " + st.role, "leader " + (st.leader || "none"),
    "term " + st.term, "applied " + st.applied_index, "lag " + (st.apply_lag ?? 0)];
  document.getElementById("peer-summary").textContent = parts.join(" · ");
  const warnings = clusterWarnings(st, peers);
  const box = document.getElementById("warnings");
  box.hidden = warnings.length === 0;
  box.textContent = warnings.join(" ");
}

async function refreshHeader() {
  try {
    renderHeader(await api.get("/status"));
  } catch (err) {
    showError("Cannot reach the API: " + err.message);
  }
}

function showError(message) {
  const box = document.getElementById("fetch-error");
  box.hidden = !message;
  box.textContent = message || "";
}

// --- router: #/jobs?..., #/job/NAME, #/job/NAME/edit, #/new, #/run/ID, #/cluster ---------

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  if (parts[0] === "job" && parts[1]) {
    return { name: parts[2] === "edit" ? "edit" : "job", params: { ...params, job: parts[1] } };
  }
  if (parts[0] === "run" && parts[1]) return { name: "run", params: { ...params, id: parts[1] } };
  if (parts[0] === "new") return { name: "edit", params };
  if (parts[0] === "cluster") return { name: "cluster", params };
  return { name: "jobs", params };
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function refreshView() {
  const mine = current;
  if (!mine || !mine.view.refresh) return;
  try {
    await mine.view.refresh(mine.params, mine.root);
    if (current === mine) showError(null);
  } catch (err) {
    // A refresh that finishes after the page moved on wrote into a detached view: ignore it.
    if (current !== mine) return;
    showError(err.status === 404 ? err.message : "Cannot reach the API: " + err.message);
  }
}

async function route() {
  if (current) {
    clearInterval(current.timer);
    if (current.view.leave) current.view.leave();
  }
  const { name, params } = parseHash();
  const view = VIEWS[name];
  // A fresh root per visit: a late answer for the view left behind renders into a node no
  // longer in the page, never into this one.
  const root = el("div", { class: "view", "data-view": name });
  document.getElementById("view").replaceChildren(root);
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.nav === name);
  }
  current = { name, params, root, view, timer: null };
  const mine = current;
  view.render(params, root);
  await refreshView();
  if (current === mine && view.refresh) current.timer = setInterval(refreshView, POLL_MS);
}

function start() {
  window.addEventListener("hashchange", route);
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    say(document.getElementById("token-state"), "Token forgotten.", "ok");
  });
  refreshHeader();
  setInterval(refreshHeader, 6 * POLL_MS);
  route();
}

window.addEventListener("load", start);
