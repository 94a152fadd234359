// The cluster: peers (role, term, applied index and lag, load, active runs, clock skew,
// reachability; the leader highlighted) and SSH/local nodes (health and why), with warnings.
// One GET /dashboard/cluster per refresh (that peer asks the others for their /status).
"use strict";

function skewText(p, st) {
  if (p.self) return typeof st.clock_offset === "number"
    ? st.clock_offset.toFixed(3) + " s (vs majority)" : "—";
  return typeof p.clock_skew === "number" ? p.clock_skew.toFixed(3) + " s" : "—";
}

function peerLag(p, st, own) {
  // The leader knows how far each follower's log matches; each peer knows its apply lag.
  if (own && own.apply_lag != null && !own.error) {
    const behind = p.match_index != null ? Math.max(0, st.commit_index - p.match_index) : null;
    return (behind != null ? behind + " behind leader, " : "") + own.apply_lag + " to apply";
  }
  if (p.match_index != null) return Math.max(0, st.commit_index - p.match_index) + " behind";
  return "—";
}

VIEWS.cluster = {
  render(params, root) {
    root.append(el("h2", {}, "Cluster"),
      el("div", { id: "cluster-warnings", class: "warnings", hidden: true }),
      el("h3", {}, "Peers"),
      el("table", { id: "peers" }, el("thead", {}, el("tr", {}, ["peer", "role", "term",
        "applied", "lag", "load", "active runs", "clock skew", "reachable", "api"].map(
        (h) => el("th", {}, h)))), el("tbody")),
      el("h3", {}, "Nodes"),
      el("table", { id: "nodes" }, el("thead", {}, el("tr", {}, ["node", "kind", "roles",
        "health", "reason", "load", "active runs"].map((h) => el("th", {}, h)))), el("tbody")),
      el("p", { id: "nodes-empty", class: "note", hidden: true }, "No SSH or local nodes."));
  },

  async refresh(params, root) {
    const data = await api.get("/dashboard/cluster");
    const st = data.status;
    renderHeader(st, data.peers);
    const warnings = clusterWarnings(st, data.peers);
    const box = root.querySelector("#cluster-warnings");
    box.hidden = warnings.length === 0;
    box.replaceChildren(...warnings.map((w) => el("div", {}, w)));
    const byName = Object.fromEntries(data.nodes.map((n) => [n.name, n]));
    root.querySelector("#peers tbody").replaceChildren(...(st.peers || []).map((p) => {
      const own = data.peers[p.id] || {};
      const node = byName[p.id] || {};
      const leader = p.id === st.leader;
      const reachable = p.self || (p.reachable !== false && !own.error);
      return el("tr", { "data-peer": p.id, class: leader ? "leader" : "" },
        el("td", {}, p.id, leader ? " ★ leader" : "", p.self ? " (this peer)" : ""),
        el("td", {}, own.role || (leader ? "leader" : "—")),
        el("td", {}, own.term ?? "—"), el("td", {}, own.applied_index ?? "—"),
        el("td", { class: "lag" }, peerLag(p, st, own)),
        el("td", {}, node.load == null ? "—" : Math.round(node.load * 100) + "%"),
        el("td", {}, own.active_runs ?? node.active_runs ?? "—"),
        el("td", {}, skewText(p, st)),
        el("td", { class: reachable ? "healthy" : "unhealthy" }, reachable ? "yes"
          : "no" + (own.error ? " (" + own.error + ")" : "")),
        el("td", {}, p.api || ""));
    }));
    const nodes = data.nodes.filter((n) => n.kind !== "peer");
    root.querySelector("#nodes-empty").hidden = nodes.length > 0;
    root.querySelector("#nodes tbody").replaceChildren(...nodes.map((n) => el("tr",
      { "data-node": n.name },
      el("td", {}, n.name), el("td", {}, n.connection_type || n.kind),
      el("td", {}, (n.roles || []).join(", ")),
      el("td", { class: n.healthy ? "healthy" : "unhealthy" }, n.healthy ? "up" : "down"),
      el("td", {}, n.health_reason || ""),
      el("td", {}, n.load == null ? "—" : Math.round(n.load * 100) + "%"),
      el("td", {}, n.active_runs ?? 0))));
  },
};
