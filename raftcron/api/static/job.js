// A job's page: every field, the next ten fire times, run history with a duration chart,
// missed and skipped slots, and the actions (run now, pause, resume, backfill, edit, delete).
// One GET /dashboard/jobs/{name} and one GET /jobs/{name}/history?limit=20 per refresh.
"use strict";

//: Fields shown in the page's own sections, not in the field list.
const SHOWN_ELSEWHERE = new Set(["runs", "missed", "fire_times", "next_runs", "last_run"]);

function fieldValue(key, value) {
  if (key === "env") {
    return el("span", {}, Object.keys(value).map((k) =>
      el("div", {}, k + " = ", value[k] === "***" ? el("span", { class: "redacted" },
        "(redacted)") : value[k])));
  }
  if (key === "script" && value) return "(" + value.length + " base64 characters, not shown)";
  if (value !== null && typeof value === "object") {
    const flat = JSON.stringify(value);
    return flat.length <= 60 ? flat : JSON.stringify(value, null, 1);
  }
  return String(value);
}

// Durations of finished runs, oldest to newest, as bars coloured by outcome.
function durationChart(runs) {
  const done = runs.filter((r) => r.started_at && r.finished_at).slice(0, 50).reverse();
  if (done.length === 0) return el("p", { class: "note" }, "No finished run yet.");
  const W = 600, H = 120, PAD = 28;
  const max = Math.max(...done.map((r) => seconds(r.started_at, r.finished_at)), 0.001);
  const bar = Math.min(24, (W - PAD) / done.length);
  const svg = el("svg:svg", { id: "duration-chart", viewBox: `0 0 ${W} ${H + 16}`,
    width: W, height: H + 16, role: "img", "aria-label": "run durations" });
  svg.append(el("svg:text", { x: 0, y: 10, class: "axis" }, durationText(max)),
    el("svg:text", { x: 0, y: H, class: "axis" }, "0"),
    el("svg:line", { x1: PAD, y1: H, x2: W, y2: H, class: "axis-line" }));
  done.forEach((r, i) => {
    const secs = seconds(r.started_at, r.finished_at);
    const h = Math.max(1, (secs / max) * (H - 4));
    const rect = el("svg:rect", { x: PAD + i * bar + 1, y: H - h, width: Math.max(1, bar - 2),
      height: h, class: "bar status-" + r.status });
    rect.append(el("svg:title", {}, r.slot + ": " + durationText(secs) + " " + r.status));
    const a = el("svg:a", { href: "#/run/" + enc(r.id) }, rect);
    svg.append(a);
  });
  svg.append(el("svg:text", { x: PAD, y: H + 14, class: "axis" }, done[0].slot),
    el("svg:text", { x: W, y: H + 14, class: "axis", "text-anchor": "end" },
      done.length === 1 ? "" :
      done[done.length - 1].slot));
  return svg;
}

function runRow(r) {
  return el("tr", { "data-run": r.id },
    el("td", {}, link("#/run/" + enc(r.id), r.id)), el("td", {}, r.slot),
    el("td", {}, r.attempt), el("td", {}, r.peer || ""), el("td", {}, r.target || ""),
    el("td", {}, badge(r.status)),
    el("td", {}, durationText(seconds(r.started_at, r.finished_at))),
    el("td", {}, r.exit_code ?? ""), el("td", { class: "reason" }, r.reason || ""));
}

// A history entry's changed fields, compact: `field: from -> to`, one per line.
function changesText(changes) {
  if (!changes) return "";
  const short = (v) => {
    const text = JSON.stringify(v === undefined ? null : v);
    return text.length <= 40 ? text : text.slice(0, 37) + "...";
  };
  return Object.keys(changes).sort().map((k) =>
    el("div", {}, k + ": " + short(changes[k].from) + " -> " + short(changes[k].to)));
}

function historyRow(h) {
  return el("tr", { "data-version": h.version, "data-op": h.op },
    el("td", {}, h.version), el("td", {}, h.op), el("td", {}, h.at),
    el("td", { class: "by" }, h.by || "—"), el("td", { class: "changes" }, changesText(h.changes)));
}

function table(id, heads, rows, empty) {
  if (rows.length === 0) return el("p", { class: "note", id: id + "-empty" }, empty);
  return el("table", { id }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

// Runs `action` for a button, showing its outcome in the page's message line.
async function act(root, label, action) {
  const box = root.querySelector("#job-message");
  try {
    const result = await action();
    say(box, label + ": done.", "ok");
    return result;
  } catch (err) {
    say(box, label + " failed: " + err.message + (err.status ? " (HTTP " + err.status + ")" : ""),
      "error");
    return null;
  } finally {
    refreshView();
  }
}

function isoFromLocal(value) {
  // <input type=datetime-local> has no zone: the page says it is UTC.
  return value ? value + (value.length === 16 ? ":00Z" : "Z") : "";
}

VIEWS.job = {
  render(params, root) {
    const name = params.job;
    const path = "/jobs/" + enc(name);
    const button = (id, text, onclick) => el("button", { id, type: "button", onclick }, text);
    const backfill = el("form", { id: "backfill-form", class: "toolbar" },
      "Backfill from ", el("input", { type: "datetime-local", name: "from", id: "backfill-from" }),
      " to ", el("input", { type: "datetime-local", name: "to", id: "backfill-to" }), " UTC ",
      el("button", { type: "submit", id: "backfill" }, "Backfill"));
    backfill.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const data = new FormData(backfill);
      act(root, "Backfill", () => api.post(path + "/backfill", {
        from: isoFromLocal(data.get("from")), to: isoFromLocal(data.get("to")) }));
    });
    root.append(
      el("h2", {}, "Job ", el("span", { id: "job-name" }, name), " ",
        el("span", { id: "job-status" })),
      el("div", { class: "toolbar", id: "job-actions" },
        button("run-now", "Run now", () => act(root, "Run now", async () => {
          const run = await api.post(path + "/run");
          go("#/run/" + enc(run.id));
        })),
        button("pause", "Pause", () => act(root, "Pause", () => api.post(path + "/pause"))),
        button("resume", "Resume", () => act(root, "Resume", () => api.post(path + "/resume"))),
        el("a", { class: "button", id: "edit", href: "#/job/" + enc(name) + "/edit" }, "Edit"),
        button("delete", "Delete", () => {
          if (!window.confirm("Delete job " + name + " and stop its schedule?")) return;
          act(root, "Delete", async () => { await api.del(path); go("#/jobs"); });
        })),
      backfill,
      el("p", { id: "job-message", class: "message", hidden: true }),
      el("div", { class: "columns" },
        el("section", {}, el("h3", {}, "Fields"), el("dl", { id: "job-fields" })),
        el("section", {}, el("h3", {}, "Next ten fire times"), el("div", { id: "fire-times" }),
          el("h3", {}, "Run durations"), el("div", { id: "chart" }))),
      el("h3", {}, "Runs"), el("div", { id: "job-runs" }),
      el("h3", {}, "Missed and skipped slots"), el("div", { id: "job-missed" }),
      el("h3", {}, "History"), el("div", { id: "job-history" }));
  },

  async refresh(params, root) {
    // The history is its own request: a peer without the route still shows the job.
    const history = api.get("/jobs/" + enc(params.job) + "/history?limit=20").then(
      (page) => table("history", ["version", "op", "at", "by (token)", "changes"],
        page.items.map(historyRow), "No change recorded."),
      (err) => el("p", { class: "note", id: "history-error" },
        "History unavailable: " + err.message));
    const job = await api.get("/dashboard/jobs/" + enc(params.job));
    root.querySelector("#job-status").replaceChildren(badge(job.status),
      whyNotFiring(job) ? el("span", { class: "note why" }, " " + whyNotFiring(job)) : "");
    root.querySelector("#pause").hidden = job.status === "paused";
    root.querySelector("#resume").hidden = job.status !== "paused";
    const dl = root.querySelector("#job-fields");
    dl.replaceChildren();
    for (const [key, value] of Object.entries(job)) {
      if (SHOWN_ELSEWHERE.has(key) || value == null || value === "") continue;
      dl.append(el("dt", {}, key), el("dd", { "data-field": key }, fieldValue(key, value)));
      if (key === "schedule") {
        dl.append(el("dt", {}, "reads as"), el("dd", { class: "human" }, describeSchedule(value)));
      }
    }
    root.querySelector("#fire-times").replaceChildren(table("fire-times-table",
      ["slot", "fires at (with jitter)", ""], job.fire_times.map((t) => el("tr", {},
        el("td", {}, t.slot), el("td", {}, t.fire_at),
        el("td", { class: "note" }, relative(t.fire_at)))),
    whyNotFiring(job) || "No fire time left."));
    root.querySelector("#chart").replaceChildren(durationChart(job.runs));
    root.querySelector("#job-runs").replaceChildren(table("runs",
      ["run", "slot", "attempt", "peer", "target", "status", "duration", "exit", "reason"],
      job.runs.map(runRow), "No run yet."));
    root.querySelector("#job-missed").replaceChildren(table("missed",
      ["slot", "status", "reason"], job.missed.map((r) => el("tr", {},
        el("td", {}, r.slot), el("td", {}, badge(r.status)),
        el("td", { class: "reason" }, r.reason || ""))), "None."));
    root.querySelector("#job-history").replaceChildren(await history);
  },
};
