// Creating and editing a job: a form for the common fields plus a JSON editor for the rest.
// One POST /jobs (new) or PUT /jobs/{name} (edit): the server validates the whole job before
// anything is applied, and its 400 {"error", "field"} is shown next to the field it names.
"use strict";

//: The form's fields: [name, label, kind, help].
const COMMON = [
  ["name", "Name", "text", "letters, digits, - _ ."],
  ["description", "Description", "text", ""],
  ["schedule", "Schedule", "text", "cron (0 3 * * *), @every 1m, @daily, @at 2030-01-01T00:00:00Z"],
  ["tz", "Time zone", "text", "e.g. UTC, Europe/Berlin"],
  ["command", "Command", "text", "a shell line, or a JSON list of arguments"],
  ["timeout", "Timeout", "text", "e.g. 10m (empty: none)"],
  ["retries", "Retries", "number", ""],
  ["concurrency", "Concurrency", "select", "forbid, allow, replace or queue"],
  ["jitter", "Jitter", "text", "e.g. 30s"],
  ["roles", "Roles", "text", "comma-separated"],
  ["labels", "Labels", "text", "key:value, comma-separated"],
  ["paused", "Paused", "checkbox", ""],
];
//: What the server answers but a write must not send.
const READ_ONLY = ["status", "next_runs", "next_run", "last_run", "counts", "version",
  "created_at", "updated_at", "managed_by", "fire_times", "runs", "missed", "outcomes"];

function toForm(key, value) {
  if (value == null) return "";
  if (key === "roles") return value.join(", ");
  if (key === "labels") return Object.entries(value).map(([k, v]) => k + ":" + v).join(", ");
  if (key === "command") return Array.isArray(value) ? JSON.stringify(value) : value;
  if (key === "schedule" && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// The form's value of `key` for the body; undefined leaves the key out.
function fromForm(key, input) {
  if (input.type === "checkbox") return input.checked;
  const text = input.value.trim();
  if (text === "") return key === "description" ? "" : undefined;
  if (key === "retries") return Number(text);
  if (key === "roles") return text.split(",").map((s) => s.trim()).filter(Boolean);
  if (key === "labels") {
    return Object.fromEntries(text.split(",").map((s) => s.trim()).filter(Boolean)
      .map((s) => { const i = s.search(/[:=]/); return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)]; }));
  }
  if ((key === "command" || key === "schedule") && (text.startsWith("[") || text.startsWith("{"))) {
    try { return JSON.parse(text); } catch (err) { return text; }
  }
  return text;
}

function fieldError(root, field, message) {
  const top = (field || "").split(/[.[]/)[0];
  const slot = root.querySelector(`[data-error-for="${CSS.escape(top)}"]`)
    || root.querySelector('[data-error-for="json"]');
  slot.textContent = (slot.dataset.errorFor === "json" && field ? field + ": " : "") + message;
  slot.hidden = false;
  const input = root.querySelector(`[name="${CSS.escape(top)}"]`);
  if (input) input.focus();
}

function clearErrors(root) {
  for (const e of root.querySelectorAll(".field-error")) { e.hidden = true; e.textContent = ""; }
  say(root.querySelector("#form-message"), "");
}

async function fillForm(root, name) {
  const job = await api.get("/jobs/" + enc(name));
  const rest = {};
  for (const [k, v] of Object.entries(job)) {
    const input = root.querySelector(`[name="${CSS.escape(k)}"]`);
    if (input) {
      if (input.type === "checkbox") input.checked = !!v;
      else input.value = toForm(k, v);
    } else if (!READ_ONLY.includes(k)) {
      rest[k] = v;
    }
  }
  root.querySelector("#job-json").value = JSON.stringify(rest, null, 2);
}

async function submitJob(root, editing) {
  clearErrors(root);
  let body;
  try {
    const text = root.querySelector("#job-json").value.trim();
    body = text ? JSON.parse(text) : {};
    if (typeof body !== "object" || Array.isArray(body)) throw new Error("expected a JSON object");
  } catch (err) {
    fieldError(root, "", "Other fields: not valid JSON (" + err.message + "). Nothing was sent.");
    return;
  }
  for (const [key] of COMMON) {
    const value = fromForm(key, root.querySelector(`[name="${key}"]`));
    if (value === undefined) delete body[key];
    else body[key] = value;
  }
  try {
    const job = editing ? await api.put("/jobs/" + enc(editing), body)
      : await api.post("/jobs", body);
    go("#/job/" + enc(job.name));
  } catch (err) {
    if (err.status === 400 || err.status === 403) fieldError(root, err.field, err.message);
    else say(root.querySelector("#form-message"), "Not saved: " + err.message, "error");
  }
}

VIEWS.edit = {
  render(params, root) {
    const editing = params.job || null;
    const rows = COMMON.map(([key, label, kind, help]) => {
      let input;
      if (kind === "select") {
        input = el("select", { name: key, id: "field-" + key }, ["", "forbid", "allow", "replace",
          "queue"].map((v) => el("option", { value: v }, v || "(default: forbid)")));
      } else {
        input = el("input", { name: key, id: "field-" + key, type: kind, placeholder: help,
          readonly: key === "name" && editing ? true : null });
      }
      return el("div", { class: "form-row" }, el("label", { for: "field-" + key }, label), input,
        el("span", { class: "field-error", "data-error-for": key, hidden: true }));
    });
    const form = el("form", { id: "job-form" }, ...rows,
      el("div", { class: "form-row json-row" },
        el("label", { for: "job-json" }, "Other fields (JSON)"),
        el("textarea", { id: "job-json", rows: 12, spellcheck: "false" }, "{}"),
        el("span", { class: "field-error", "data-error-for": "json", hidden: true })),
      el("div", { class: "toolbar" }, el("button", { type: "submit", id: "save" },
        editing ? "Save" : "Create"),
      el("a", { class: "button", href: editing ? "#/job/" + enc(editing) : "#/jobs" }, "Cancel")),
      el("p", { id: "form-message", class: "message", hidden: true }));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); submitJob(root, editing); });
    root.append(el("h2", {}, editing ? "Edit job " + editing : "New job"),
      el("p", { class: "note" }, "Nothing is applied until the server accepts the whole job; "
        + "its errors are shown next to the field they name."), form);
    if (editing) {
      fillForm(root, editing).catch((err) => say(root.querySelector("#form-message"),
        "Cannot load the job: " + err.message, "error"));
    } else {
      root.querySelector("#job-json").value = "{}";
    }
  },
};
