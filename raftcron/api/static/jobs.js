// The jobs list: search and filters (in the URL), one GET /dashboard/jobs per refresh,
// paged by the server's cursor; the human reading of a schedule.
"use strict";

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["", "January", "February", "March", "April", "May", "June", "July",
  "August", "September", "October", "November", "December"];
const MACROS = {
  "@yearly": "once a year, on 1 January at 00:00", "@annually": "once a year, on 1 January at 00:00",
  "@monthly": "once a month, on the 1st at 00:00", "@weekly": "once a week, on Sunday at 00:00",
  "@daily": "every day at 00:00", "@midnight": "every day at 00:00",
  "@hourly": "every hour, on the hour",
};

function pad2(n) { return String(n).padStart(2, "0"); }

function listOf(field, names) {
  return field.split(",").map((part) => {
    const [a, b] = part.split("-");
    const name = (v) => (names && /^\d+$/.test(v) ? names[Number(v) % names.length] || v : v);
    return b === undefined ? name(a) : name(a) + " to " + name(b);
  }).join(", ");
}

// A person's reading of a schedule ("every day at 03:00"); the expression itself when it is
// beyond these few shapes. H fields are hashed from the name: shown as "a fixed minute".
function describeSchedule(schedule) {
  if (typeof schedule !== "string") return "every " + (schedule.interval || "?");
  const s = schedule.trim();
  if (MACROS[s.toLowerCase()]) return MACROS[s.toLowerCase()];
  if (/^@every\s+/i.test(s)) return "every " + s.replace(/^@every\s+/i, "");
  if (/^@at\s+/i.test(s)) return "once, at " + s.replace(/^@at\s+/i, "");
  const f = s.split(/\s+/);
  if (f.length !== 5) return "cron: " + s;
  const [min, hour, dom, mon, dow] = f;
  const num = (v) => /^\d+$/.test(v);
  const hashed = (v) => /^H/.test(v);
  let when;
  if (min === "*" && hour === "*") when = "every minute";
  else if (/^\*\/\d+$/.test(min) && hour === "*") when = "every " + min.slice(2) + " minutes";
  else if ((num(min) || hashed(min)) && hour === "*") {
    when = "every hour at " + (num(min) ? ":" + pad2(min) : "a fixed minute");
  } else if (num(min) && num(hour)) when = "at " + pad2(hour) + ":" + pad2(min);
  else if (num(min) && /^\*\/\d+$/.test(hour)) {
    when = "every " + hour.slice(2) + " hours at :" + pad2(min);
  } else if (hashed(min) || hashed(hour)) when = "at a fixed time hashed from the name";
  else return "cron: " + s;
  const on = [];
  if (dom !== "*") on.push(dom === "L" ? "on the last day of the month" : "on day " + dom);
  if (mon !== "*") on.push("in " + listOf(mon, MONTHS));
  if (dow !== "*") on.push("on " + (dow === "1-5" ? "weekdays" : listOf(dow, DAYS)));
  if (on.length === 0 && when.startsWith("at ")) return "every day " + when;
  return [when, ...on].join(", ");
}

// Why a job does not fire: paused (and how), or finished (which limit ended it).
function whyNotFiring(job) {
  if (job.status === "paused") {
    return job.managed_by ? "paused (the job's file says so, or an operator paused it)"
      : "paused by an operator since " + (job.updated_at || "?");
  }
  if (job.status !== "finished") return "";
  if (job.end_at && Date.parse(job.end_at) <= Date.now()) return "finished: past end_at " + job.end_at;
  if (job.max_runs != null) return "finished: max_runs " + job.max_runs + " reached";
  if (typeof job.schedule === "string" && /^@at/i.test(job.schedule.trim())) {
    return "finished: its one @at time fired";
  }
  return "finished: no slot left in its schedule";
}

function strip(outcomes) {
  const box = el("div", { class: "strip" });
  for (const r of (outcomes || []).slice().reverse()) {  // oldest left, newest right
    box.append(el("a", {
      class: "cell status-" + r.status, href: "#/run/" + enc(r.id),
      title: r.slot + " " + r.status + (r.exit_code != null ? " (exit " + r.exit_code + ")" : "")
        + (r.reason ? ": " + r.reason : ""),
    }));
  }
  return box;
}

function jobsQuery(params) {
  const q = new URLSearchParams();
  for (const k of ["q", "status", "label", "role", "cursor"]) if (params[k]) q.set(k, params[k]);
  return q.toString();
}

VIEWS.jobs = {
  render(params, root) {
    const input = (name, placeholder) => el("input", {
      name, placeholder, value: params[name] || "", type: "search", id: "filter-" + name });
    const status = el("select", { name: "status", id: "filter-status" },
      ["", "scheduled", "paused", "finished"].map((s) =>
        el("option", { value: s, selected: (params.status || "") === s }, s || "any status")));
    const form = el("form", { id: "job-filters", class: "toolbar" },
      input("q", "search name or description"), status, input("label", "label key:value"),
      input("role", "role"), el("button", { type: "submit" }, "Filter"),
      el("a", { href: "#/new", class: "button", id: "new-job" }, "New job"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = {};
      for (const [k, v] of new FormData(form)) if (v) next[k] = v;
      go("#/jobs" + (jobsQuery(next) ? "?" + jobsQuery(next) : ""));
    });
    status.addEventListener("change", () => form.requestSubmit());
    root.append(
      el("div", { id: "job-counts", class: "counts" }), form,
      el("table", { id: "jobs" }, el("thead", {}, el("tr", {},
        ["name", "status", "schedule", "time zone", "next run", "last 20 outcomes"].map(
          (h) => el("th", {}, h)))), el("tbody")),
      el("p", { id: "jobs-empty", hidden: true }, "No job matches."),
      el("div", { class: "pager" },
        el("a", { id: "page-first", class: "button", href: "#/jobs?" + jobsQuery({ ...params, cursor: "" }),
          hidden: !params.cursor }, "First page"),
        el("a", { id: "page-next", class: "button", hidden: true }, "Next page")));
  },

  async refresh(params, root) {
    const page = await api.get("/dashboard/jobs?" + jobsQuery(params));
    const counts = root.querySelector("#job-counts");
    counts.replaceChildren(
      el("a", { href: "#/jobs", class: "count" }, "all ", el("b", {}, page.total)),
      ...Object.entries(page.counts).map(([s, n]) => el("a", {
        href: "#/jobs?status=" + s, class: "count count-" + s, "data-status": s }, s + " ",
      el("b", {}, n))));
    root.querySelector("#jobs tbody").replaceChildren(...page.items.map((j) => el("tr",
      { "data-job": j.name },
      el("td", { class: "job-name" }, link("#/job/" + enc(j.name), j.name),
        j.description ? el("div", { class: "note" }, j.description) : null),
      el("td", { class: "job-status" }, badge(j.status),
        whyNotFiring(j) ? el("div", { class: "note why" }, whyNotFiring(j)) : null),
      el("td", { class: "schedule" }, el("code", {}, typeof j.schedule === "string"
        ? j.schedule : JSON.stringify(j.schedule)), el("div", { class: "note human" },
        describeSchedule(j.schedule))),
      el("td", {}, j.tz || "UTC"),
      el("td", { class: "next-run", title: relative(j.next_run) }, j.next_run || "—",
        j.next_run ? el("div", { class: "note" }, relative(j.next_run)) : null),
      el("td", {}, strip(j.outcomes)))));
    root.querySelector("#jobs-empty").hidden = page.items.length > 0;
    const next = root.querySelector("#page-next");
    next.hidden = !page.next_cursor;
    if (page.next_cursor) next.href = "#/jobs?" + jobsQuery({ ...params, cursor: page.next_cursor });
  },
};
