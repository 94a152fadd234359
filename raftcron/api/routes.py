"""The route table: every route once, with what `/openapi.json` says about it.

`app.py` registers exactly these routes, and `openapi.py` documents exactly these, so the
two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from raftcron.api import (
    backup,
    blackouts,
    dashboard,
    dashboard_api,
    dependencies,
    groups,
    history,
    jobs,
    jobs_batch,
    jobs_patch,
    manual,
    metrics,
    nodes,
    notifications,
    output_stream,
    peers,
    readindex,
    runs,
    status,
)
from raftcron.api.auth import Need
from raftcron.api.http import Request, Response

Handler = Callable[[Any, Request], Awaitable[Response]]

_PAGE = ("limit", "cursor")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    #: Query parameters this route reads (besides min_index/consistency/timeout on reads).
    query: tuple[str, ...] = ()
    #: Name of the request body schema in openapi.py, or None.
    body: str | None = None
    #: Success status and the response schema name (or a media type for non-JSON).
    ok: tuple[int, str] = (200, "Object")
    #: Error statuses this route can answer besides the common ones.
    errors: tuple[int, ...] = field(default_factory=tuple)
    tag: str = "cluster"
    #: What the caller must hold (`api/auth.py`); None: READ for GET, WRITE otherwise.
    need: Need | None = None

    @property
    def required(self) -> Need:
        if self.need is not None:
            return self.need
        return Need.READ if self.method == "GET" else Need.WRITE


ROUTES: tuple[Route, ...] = (
    Route("GET", "/status", status.get_status, "This peer: role, leader, term, indices, peers",
          ok=(200, "Status")),
    Route("GET", "/healthz", status.healthz, "Liveness: 200 while the process serves",
          need=Need.NONE),
    Route("GET", "/readyz", status.readyz,
          "Readiness: 200 when there is a leader and this peer has caught up", errors=(503,),
          need=Need.NONE),
    Route("GET", "/raft/read-index", readindex.read_index,
          "The leader's commit index for a strong read (answered by the leader only)",
          ok=(200, "Object"), errors=(503,), need=Need.NONE),
    Route("GET", "/metrics", metrics.get_metrics, "Prometheus text format",
          ok=(200, "text/plain")),
    Route("GET", "/openapi.json", status.get_openapi, "This document"),
    Route("GET", "/backup", backup.get_backup,
          "A consistent copy of this peer's state (SQLite); needs the token: it holds secrets",
          ok=(200, backup.MEDIA_TYPE), errors=(401,), need=Need.WRITE),
    Route("GET", "/jobs", jobs.list_jobs, "List jobs (with next_run)",
          query=("status", "role", "label", *_PAGE), ok=(200, "JobPage"), tag="jobs"),
    Route("POST", "/jobs", jobs.create_job,
          "Create a job (409 if the name exists); also accepts the distributed-cronjob form "
          '{"executable", "schedule", "type"}', body="Job", ok=(201, "Job"),
          errors=(409,), tag="jobs"),
    Route("POST", "/jobs:batch", jobs_batch.apply_jobs,
          "Create or replace up to 1,000 jobs in one entry: all of them or none",
          body="JobBatch", ok=(200, "JobBatchResult"), tag="jobs"),
    Route("GET", "/jobs/{name}", jobs.get_job,
          "One job with status, next_runs, last_run, counts", ok=(200, "Job"), errors=(404,),
          tag="jobs"),
    Route("PUT", "/jobs/{name}", jobs.put_job, "Create (201) or replace (200) a job",
          body="Job", ok=(200, "Job"), tag="jobs"),
    Route("PATCH", "/jobs/{name}", jobs_patch.patch_job,
          "Change some fields of a job (JSON merge patch: a field left out stays, null "
          "resets it to its default); validated as a whole like PUT", body="JobPatch",
          ok=(200, "Job"), errors=(404, 409), tag="jobs"),
    Route("DELETE", "/jobs/{name}", jobs.delete_job, "Delete a job", errors=(404,), tag="jobs"),
    Route("POST", "/jobs/{name}/pause", jobs.pause_job, "Pause a job", ok=(200, "Job"),
          errors=(404,), tag="jobs"),
    Route("POST", "/jobs/{name}/resume", jobs.resume_job, "Resume a paused job",
          ok=(200, "Job"), errors=(404,), tag="jobs"),
    Route("GET", "/jobs/{name}/history", history.job_history,
          "The job's changes, newest first: version, op, time, token name, field diff",
          query=_PAGE, ok=(200, "HistoryPage"), errors=(404,), tag="jobs"),
    Route("POST", "/jobs/{name}/run", manual.run_now,
          "Run a job now (a manual run on the least-loaded eligible peer)", ok=(202, "Run"),
          errors=(404, 409), tag="jobs"),
    Route("POST", "/jobs/{name}/backfill", dependencies.start_backfill,
          "Run every slot of a time range, oldest first, under the job's concurrency policy "
          "(capped: 400 with the count over the cap)", body="Backfill", ok=(202, "Object"),
          errors=(404, 409), tag="jobs"),
    Route("GET", "/jobs/{name}/backfills", dependencies.list_backfills,
          "The job's backfills, oldest first, with how many slots fired", ok=(200, "Object"),
          errors=(404,), tag="jobs"),
    Route("GET", "/runs", runs.list_runs, "List runs, newest first",
          query=("job", "status", "peer", "since", "until", *_PAGE), ok=(200, "RunPage"),
          tag="runs"),
    Route("GET", "/runs/{id}", runs.get_run, "One run with the replicated tail of its output",
          ok=(200, "Run"), errors=(404,), tag="runs"),
    Route("GET", "/runs/{id}/output", runs.get_output,
          "The whole output, from the peer that ran it (JSON, or text with ?stream=)",
          query=("stream",), ok=(200, "Output"), errors=(404, 503), tag="runs"),
    Route("GET", "/runs/{id}/output/stream", output_stream.stream_output,
          "The output followed live while the run is active (newline-delimited JSON), from "
          "the peer that runs it", query=("stdout_offset", "stderr_offset"),
          ok=(200, output_stream.MEDIA_TYPE), errors=(404, 503), tag="runs"),
    Route("POST", "/runs/{id}/cancel", runs.cancel_run, "Cancel an active run",
          ok=(202, "Run"), errors=(404, 409), tag="runs"),
    Route("GET", "/nodes", nodes.list_nodes, "Peers and SSH nodes: roles, health, load",
          ok=(200, "NodePage"), tag="nodes"),
    Route("GET", "/nodes/{name}", nodes.get_node, "One peer or SSH node", ok=(200, "Node"),
          errors=(404,), tag="nodes"),
    Route("GET", "/nodes/{name}/history", history.node_history,
          "The node's changes, newest first: version, op, time, token name, field diff",
          query=_PAGE, ok=(200, "HistoryPage"), errors=(404,), tag="nodes"),
    Route("PUT", "/nodes/{name}", nodes.put_node, "Create (201) or replace (200) an SSH node",
          body="Node", ok=(200, "Node"), errors=(409,), tag="nodes"),
    Route("DELETE", "/nodes/{name}", nodes.delete_node, "Delete an SSH node",
          errors=(404, 409), tag="nodes"),
    Route("GET", "/notifications", notifications.list_notifications,
          "The notification outbox, newest first: each event's target, status and attempts",
          query=("status", "job", *_PAGE), ok=(200, "NotificationPage"), tag="notifications"),
    Route("GET", "/peers", peers.list_peers, "The Raft members: id, api, leader, reachable",
          ok=(200, "PeerList"), tag="peers"),
    Route("POST", "/peers", peers.add_peer,
          "Add a member (then start it with --join); carried out by the leader, one change "
          "at a time", body="PeerAdd", ok=(201, "PeerChange"), errors=(409,), tag="peers"),
    Route("DELETE", "/peers/{id}", peers.remove_peer,
          "Remove a member (then stop it); carried out by the leader, one change at a time",
          ok=(200, "PeerChange"), errors=(409,), tag="peers"),
    Route("GET", "/dashboard/jobs", dashboard_api.jobs_page,
          "The dashboard's jobs list: a page of jobs matching q (name or description) and "
          "the filters, each with its last 20 outcomes, and the jobs per status",
          query=("q", "status", "role", "label", *_PAGE), ok=(200, "DashboardJobs"),
          tag="dashboard"),
    Route("GET", "/dashboard/jobs/{name}", dashboard_api.job_page,
          "The dashboard's job page: the job, its next ten fire times, runs, missed slots",
          ok=(200, "DashboardJob"), errors=(404,), tag="dashboard"),
    Route("GET", "/dashboard/runs/{id}", dashboard_api.run_page,
          "The dashboard's run page: the run and its retry chain", ok=(200, "DashboardRun"),
          errors=(404,), tag="dashboard"),
    Route("GET", "/dashboard/cluster", dashboard_api.cluster,
          "The dashboard's cluster view: /status and /nodes in one answer",
          ok=(200, "DashboardCluster"), tag="dashboard"),
    Route("GET", "/blackouts", blackouts.list_blackouts,
          "Cluster-wide blackout windows (the config's and the API's)",
          ok=(200, "BlackoutPage"), tag="blackouts"),
    Route("GET", "/blackouts/{name}", blackouts.get_blackout, "One blackout window",
          ok=(200, "Blackout"), errors=(404,), tag="blackouts"),
    Route("PUT", "/blackouts/{name}", blackouts.put_blackout,
          "Create (201) or replace (200) a blackout window", body="Blackout",
          ok=(200, "Blackout"), errors=(409,), tag="blackouts"),
    Route("DELETE", "/blackouts/{name}", blackouts.delete_blackout,
          "Delete a blackout window", errors=(404, 409), tag="blackouts"),
    Route("GET", "/concurrency-groups", groups.list_groups,
          "Concurrency groups: limit, active and waiting runs", ok=(200, "GroupPage"),
          tag="groups"),
    Route("GET", "/concurrency-groups/{name}", groups.get_group, "One concurrency group",
          ok=(200, "Group"), errors=(404,), tag="groups"),
    Route("PUT", "/concurrency-groups/{name}", groups.put_group,
          "Set (201 created, 200 replaced) a concurrency group's limit", body="Group",
          ok=(200, "Group"), errors=(409,), tag="groups"),
    Route("DELETE", "/concurrency-groups/{name}", groups.delete_group,
          "Remove the limit set through the API", errors=(404, 409), tag="groups"),
    # The dashboard's shell holds no data (the page reads the API with the caller's token),
    # so a browser can load it without one.
    Route("GET", "/", dashboard.index, "The dashboard (HTML)", ok=(200, "text/html"),
          tag="dashboard", need=Need.NONE),
    Route("GET", "/static/{file}", dashboard.static_file, "Dashboard assets",
          ok=(200, "text/*"), errors=(404,), tag="dashboard", need=Need.NONE),
)
