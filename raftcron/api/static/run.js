// A run's page: its fields and retry chain (GET /dashboard/runs/{id} per refresh), and its
// output followed live through GET /runs/{id}/output/stream (newline-delimited JSON, read
// with fetch() so the token goes in a header), resumed from the byte offsets it has.
"use strict";

const ACTIVE = new Set(["pending", "running"]);
const RETRY_MS = 1000;
let follow = null;  // {id, stopped, offsets, controller}

function stopFollowing() {
  if (!follow) return;
  follow.stopped = true;
  if (follow.controller) follow.controller.abort();
  follow = null;
}

function setFollowState(text, live) {
  const box = document.getElementById("follow-state");
  if (!box) return;
  box.textContent = text;
  box.classList.toggle("live", !!live);
}

function showSizes(f) {
  for (const stream of ["stdout", "stderr"]) {
    const size = document.getElementById(stream + "-size");
    if (size) size.textContent = bytesText(f.offsets[stream]);
  }
}

// Appends each line of the stream to its <pre>; reconnects from the offsets until "done".
async function followOutput(id) {
  stopFollowing();
  const f = { id, stopped: false, offsets: { stdout: 0, stderr: 0 }, controller: null };
  follow = f;
  while (!f.stopped) {
    f.controller = new AbortController();
    let resp;
    try {
      const q = "?stdout_offset=" + f.offsets.stdout + "&stderr_offset=" + f.offsets.stderr;
      resp = await rawFetch("/runs/" + enc(id) + "/output/stream" + q, f.controller.signal);
    } catch (err) {
      if (f.stopped) return;
      setFollowState("Connection lost (" + err.message + "); retrying…");
      await new Promise((r) => setTimeout(r, RETRY_MS));
      continue;
    }
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({}));
      if (resp.status === 404 && /not started/.test(body.error || "")) {
        setFollowState("Waiting for the run to start…", true);
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      setFollowState("Whole output unavailable: " + (body.error || resp.status)
        + ". Showing the replicated tail.");
      const run = await api.get("/runs/" + enc(id)).catch(() => null);
      if (run && !f.stopped) {
        document.getElementById("stdout").textContent = run.stdout_tail || "";
        document.getElementById("stderr").textContent = run.stderr_tail || "";
      }
      return;
    }
    setFollowState("Following live…", true);
    if (await readLines(f, resp.body)) return;
  }
}

// Reads one response; true once the "done" line came (the run ended, all output read).
async function readLines(f, body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || f.stopped) return f.stopped;
      buffered += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        if (msg.done) {
          setFollowState("Ended: " + msg.status + (msg.exit_code != null ? ", exit "
            + msg.exit_code : "") + (msg.reason ? " (" + msg.reason + ")" : "") + ".");
          refreshView();
          return true;
        }
        if (msg.data === undefined || msg.offset !== f.offsets[msg.stream]) continue;
        const pre = document.getElementById(msg.stream);
        const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(document.createTextNode(msg.data));
        if (stick) pre.scrollTop = pre.scrollHeight;
        f.offsets[msg.stream] += new TextEncoder().encode(msg.data).length;
        showSizes(f);
        if (!f.seen) { f.seen = true; refreshView(); }  // output: the run has started
      }
    }
  } catch (err) {
    if (!f.stopped) setFollowState("Stream broke (" + err.message + "); resuming…");
    return f.stopped;
  }
}

async function download(id, stream) {
  const resp = await rawFetch("/runs/" + enc(id) + "/output?stream=" + stream);
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    say(document.getElementById("run-message"), "Download failed: " + (body.error
      || resp.status), "error");
    return;
  }
  const url = URL.createObjectURL(await resp.blob());
  const a = el("a", { href: url, download: id + "." + stream });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

VIEWS.run = {
  render(params, root) {
    const id = params.id;
    const output = (stream) => el("section", { class: "output-box" },
      el("h3", {}, stream, " ", el("span", { class: "note", id: stream + "-size" }, "0 B"), " ",
        el("button", { type: "button", id: "download-" + stream,
          onclick: () => download(id, stream) }, "Download")),
      el("pre", { id: stream, class: "output" }));
    root.append(
      el("h2", {}, "Run ", el("span", { id: "run-id" }, id), " ", el("span", { id: "run-status" })),
      el("div", { class: "toolbar" },
        el("button", { id: "cancel", type: "button", hidden: true, onclick: async () => {
          try {
            await api.post("/runs/" + enc(id) + "/cancel");
            say(root.querySelector("#run-message"), "Cancel requested.", "ok");
          } catch (err) {
            say(root.querySelector("#run-message"), "Cancel failed: " + err.message, "error");
          }
          refreshView();
        } }, "Cancel"),
        el("span", { id: "follow-state", class: "note" })),
      el("p", { id: "run-message", class: "message", hidden: true }),
      el("dl", { id: "run-fields" }),
      el("h3", {}, "Retry chain"), el("ol", { id: "chain" }),
      output("stdout"), output("stderr"));
    followOutput(id);
  },

  leave() { stopFollowing(); },

  async refresh(params, root) {
    const run = await api.get("/dashboard/runs/" + enc(params.id));
    root.querySelector("#run-status").replaceChildren(badge(run.status));
    root.querySelector("#cancel").hidden = !ACTIVE.has(run.status);
    const dl = root.querySelector("#run-fields");
    const rows = [
      ["job", link("#/job/" + enc(run.job), run.job)], ["status", run.status],
      ["peer", run.peer || "—"], ["target", run.target || "—"], ["slot", run.slot],
      ["attempt", run.attempt], ["fired", timeText(run.fired_at)],
      ["started", timeText(run.started_at)], ["finished", timeText(run.finished_at)],
      ["duration", durationText(seconds(run.started_at, run.finished_at
        || (run.started_at && ACTIVE.has(run.status) ? new Date().toISOString() : null)))],
      ["exit code", run.exit_code ?? "—"], ["reason", run.reason || "—"],
      ["manual", run.manual ? "yes" : "no"],
      ["output size", ACTIVE.has(run.status) ? "still growing (sizes below)"
        : bytesText(run.output_bytes)],
    ];
    dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k),
      el("dd", { "data-field": k }, v)]));
    root.querySelector("#chain").replaceChildren(...run.chain.map((r) => el("li", {},
      r.id === run.id ? el("b", {}, r.id) : link("#/run/" + enc(r.id), r.id),
      " attempt " + r.attempt + " ", badge(r.status), r.reason ? " " + r.reason : "")));
  },
};
