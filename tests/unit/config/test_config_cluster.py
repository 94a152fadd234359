"""The cluster config file: every key, unknown keys, secrets from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from raftcron.config.cluster import (
    ClusterConfig,
    LogFormat,
    apply_env,
    load_cluster_config,
    parse_peer_address,
)
from raftcron.errors import ConfigError, ValidationError
from raftcron.model import ConnectionType
from tests.support.paths import DATA, ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def test_load_cluster_config_reads_every_key() -> None:
    path = DATA / "cluster" / "full.toml"
    cfg = load_cluster_config(path, environ={})
    assert cfg.peers == ["127.0.0.1:7101", "127.0.0.1:7102", "[::1]:7103"]
    assert cfg.self_id == "127.0.0.1:7102"
    assert cfg.api == "127.0.0.1:8102"
    assert cfg.roles == ["web", "db"] and cfg.capacity == 8
    assert cfg.jobs_dir == path.parent / "jobs.d"            # relative to the file
    assert cfg.nodes_dir == Path("/etc/raftcron/nodes.d")    # absolute stays
    assert cfg.data_dir_for("127.0.0.1:7102") == path.parent / "data" / "127.0.0.1-7102"
    assert cfg.log_format is LogFormat.JSON and cfg.insecure is True
    assert cfg.secret == "file-secret" and cfg.token == "file-token"
    assert cfg.raft == {"heartbeat": 0.05, "election_timeout_min": 0.3,
                        "election_timeout_max": 0.9, "connection_retry": 0.2,
                        "log_compaction_entries": 5000}
    assert cfg.scheduler.lease == timedelta(seconds=20)
    assert cfg.scheduler.max_run_age == timedelta(days=7)
    assert cfg.scheduler.catchup_cap == 10
    assert cfg.notify.webhook == "https://hooks.example.com/raftcron"
    assert cfg.notify.email == ["ops@example.com"]
    assert (cfg.notify.smtp_host, cfg.notify.smtp_port) == ("localhost", 2525)
    assert cfg.notify.smtp_from == "raftcron@example.com"
    db1, here = cfg.nodes
    assert (db1.name, db1.connection_type, db1.ssh_host, db1.ssh_port) == (
        "db1", ConnectionType.SSH, "db1.example.com", 2222)
    assert here.connection_type is ConnectionType.LOCAL
    assert cfg.source == path


def test_load_cluster_config_defaults(tmp_path: Path) -> None:
    cfg = load_cluster_config(write(tmp_path, ""), environ={})
    assert cfg.peers == [] and cfg.self_id is None and cfg.data_dir is None
    assert cfg.capacity == 4 and cfg.log_format is LogFormat.TEXT and not cfg.insecure
    assert cfg.scheduler.lease == timedelta(seconds=15)
    assert cfg.scheduler.max_run_age == timedelta(days=30)
    assert cfg.scheduler.catchup_cap == 100
    assert cfg.notify.smtp_port == 25 and cfg.raft == {} and cfg.nodes == []


def test_load_cluster_config_reads_the_example() -> None:
    path = ROOT / "configs" / "cluster.toml"
    cfg = load_cluster_config(path, environ={})
    assert cfg.peers == ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]
    assert [cfg.api_for(p) for p in cfg.peers] == [
        "127.0.0.1:8101", "127.0.0.1:8102", "127.0.0.1:8103"]
    dirs = {cfg.data_dir_for(p) for p in cfg.peers}
    assert len(dirs) == 3
    assert cfg.jobs_dir == path.parent / "jobs.d" and cfg.jobs_dir.is_dir()
    assert cfg.secret is None  # the example leaves secrets to the environment


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("peer = ['127.0.0.1:7101']", "peer"),
        ("[raft]\nelection_timeout = 1.0", "raft.election_timeout"),
        ("[scheduler]\nleese = '15s'", "scheduler.leese"),
        ("[notify]\nsmtp_user = 'x'", "notify.smtp_user"),
        ("[[nodes]]\nname = 'a'\nhots = 'x'", "nodes.0.hots"),
    ],
)
def test_load_cluster_config_refuses_unknown_keys(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="unknown") as exc:
        load_cluster_config(path, environ={})
    assert exc.value.field == field
    assert str(path) in exc.value.message and field in exc.value.message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("peers = '127.0.0.1:7101'", "peers"),
        ("peers = ['127.0.0.1']", "peers.0"),
        ("peers = ['a:1', 'a:1']", "peers.1"),
        ("peers = ['a:1', 'b:x']", "peers.1"),
        ("peers = ['a:1']\nself = 'b:1'", "self"),
        ("self = 'nohost'", "self"),
        ("api = 'localhost'", "api"),
        ("data_dir = '/var/lib/{peer}'", "data_dir"),
        ("roles = ['a b']", "roles.0"),
        ("capacity = 0", "capacity"),
        ("capacity = '4'", "capacity"),
        ("jobs_dir = 5", "jobs_dir"),
        ("log_format = 'xml'", "log_format"),
        ("insecure = 'yes'", "insecure"),
        ("secret = 5", "secret"),
        ("nodes = 'db1'", "nodes"),
        ("[[nodes]]\nconnection_type = 'local'", "nodes.0.name"),
        ("[[nodes]]\nname = 'a'\nconnection_type = 'ssh'\nssh_user = 'u'", "nodes.0.ssh_host"),
        ("[[nodes]]\nname = 'a'\n[[nodes]]\nname = 'a'", "nodes.1.name"),
        ("[raft]\nheartbeat = 'fast'", "raft.heartbeat"),
        ("[raft]\nheartbeat = 0", "raft.heartbeat"),
        ("[raft]\nlog_compaction_entries = 1.5", "raft.log_compaction_entries"),
        ("[raft]\nelection_timeout_min = 2.0\nelection_timeout_max = 1.0",
         "raft.election_timeout_max"),
        ("[scheduler]\nlease = 'long'", "scheduler.lease"),
        ("[scheduler]\nlease = '0s'", "scheduler.lease"),
        ("[scheduler]\ncatchup_cap = -1", "scheduler.catchup_cap"),
        ("[scheduler]\noutput_limit = 'huge'", "scheduler.output_limit"),
        ("[scheduler]\noutput_limit = 10", "scheduler.output_limit"),
        ("[notify]\nwebhook = 'mailto:x@y.z'", "notify.webhook"),
        ("[notify]\nemail = ['nope']", "notify.email.0"),
        ("[notify]\nsmtp_port = 0", "notify.smtp_port"),
        ("[notify]\nsmtp_from = 'nobody'", "notify.smtp_from"),
        ("scheduler = 5", "scheduler"),
    ],
)
def test_load_cluster_config_refusal_names_file_and_field(
    tmp_path: Path, text: str, field: str,
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_cluster_config(path, environ={})
    assert exc.value.field == field
    assert exc.value.file == str(path)
    assert exc.value.message.startswith(f"{path}: {field}")


def test_load_cluster_config_refuses_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "peers = [")
    with pytest.raises(ConfigError, match="not valid TOML") as exc:
        load_cluster_config(path, environ={})
    assert exc.value.file == str(path)


def test_load_cluster_config_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_cluster_config(tmp_path / "nope.toml", environ={})


def test_load_cluster_config_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "secret = 'from-file'\ntoken = 'file-token'")
    cfg = load_cluster_config(path, environ={"RAFTCRON_SECRET": "from-env"})
    assert cfg.secret == "from-env" and cfg.token == "file-token"
    cfg = load_cluster_config(path, environ={"RAFTCRON_SECRET": "", "RAFTCRON_TOKEN": "t"})
    assert cfg.secret == "from-file" and cfg.token == "t"


def test_load_cluster_config_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAFTCRON_TOKEN", "env-token")
    assert load_cluster_config(write(tmp_path, "")).token == "env-token"


def test_cluster_config_hides_secrets_from_repr_and_str(tmp_path: Path) -> None:
    path = write(tmp_path, "secret = 'hunter2-secret'\ntoken = 'hunter2-token'")
    cfg = load_cluster_config(path, environ={})
    for text in (repr(cfg), str(cfg)):
        assert "hunter2" not in text
    cfg = apply_env(ClusterConfig(), {"RAFTCRON_SECRET": "s3cr3t-env"})
    assert cfg.secret == "s3cr3t-env" and "s3cr3t" not in repr(cfg)


def test_cluster_config_api_for_defaults_to_raft_port_plus_1000() -> None:
    assert ClusterConfig().api_for("10.0.0.1:7100") == "10.0.0.1:8100"
    assert ClusterConfig().api_for("[::1]:7100") == "[::1]:8100"
    assert ClusterConfig(api="0.0.0.0:9000").api_for("10.0.0.1:7100") == "0.0.0.0:9000"
    with pytest.raises(ValidationError) as exc:
        ClusterConfig().api_for("h:65000")
    assert exc.value.field == "api"


def test_cluster_config_data_dir_without_template_is_the_same_for_every_peer() -> None:
    cfg = ClusterConfig(data_dir=Path("/var/lib/raftcron"))
    assert cfg.data_dir_for("a:1") == Path("/var/lib/raftcron")
    assert ClusterConfig().data_dir_for("a:1") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:7100", ("127.0.0.1", 7100)), ("node-a.example.com:1", ("node-a.example.com", 1)),
     ("[::1]:7100", ("::1", 7100)), ("localhost:65535", ("localhost", 65535))],
)
def test_parse_peer_address_splits_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_peer_address(text) == expected


@pytest.mark.parametrize(
    "text", ["127.0.0.1", ":7100", "host:", "host:0", "host:65536", "host:http", "::1",
             "[::1]", "[::1]7100", "a b:1", "", 7100, None],
)
def test_parse_peer_address_refuses_with_a_clear_error(text: object) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_peer_address(text, field="peers")
    assert exc.value.field == "peers"
    assert exc.value.message.startswith("peers: ")


def test_load_cluster_config_output_limit_default_and_size(tmp_path: Path) -> None:
    assert load_cluster_config(write(tmp_path, "[scheduler]\nlease = '15s'"),
                               environ={}).scheduler.output_limit == 100 * 1024 * 1024
    cfg = load_cluster_config(write(tmp_path, "[scheduler]\noutput_limit = '10MiB'"), environ={})
    assert cfg.scheduler.output_limit == 10 * 1024 * 1024
