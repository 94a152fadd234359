"""`raftcron.config.crontab.parse_crontab`: a classic crontab -> validated job resources."""

from __future__ import annotations

import pytest

from raftcron.config.crontab import (
    CrontabError,
    default_prefix,
    is_system_crontab,
    parse_crontab,
)
from raftcron.model import job_from_dict


def bodies(text: str, **kw: object) -> list[dict]:
    return [j.body for j in parse_crontab(text, **kw)]  # type: ignore[arg-type]


def errors(text: str, **kw: object) -> list[tuple[int, str]]:
    with pytest.raises(CrontabError) as info:
        parse_crontab(text, **kw)  # type: ignore[arg-type]
    return [(e.line, e.message) for e in info.value.errors]


def test_crontab_five_fields_and_command_string() -> None:
    (job,) = bodies("30 2 * * 1-5  /usr/bin/backup --full >/dev/null 2>&1\n", file="/x/db.cron")
    assert job == {"name": "db-1", "schedule": "30 2 * * 1-5",
                   "command": "/usr/bin/backup --full >/dev/null 2>&1",
                   "description": "imported from /x/db.cron line 1"}
    assert job_from_dict(job).command == "/usr/bin/backup --full >/dev/null 2>&1"


def test_crontab_comments_blank_lines_and_line_numbers() -> None:
    jobs = parse_crontab("# a comment\n\n   # indented comment\n0 * * * * a\n\n5 * * * * b\n")
    assert [(j.line, j.body["name"], j.body["command"]) for j in jobs] == [
        (4, "crontab-1", "a"), (6, "crontab-2", "b")]


@pytest.mark.parametrize("macro", ["@yearly", "@annually", "@monthly", "@weekly", "@daily",
                                   "@midnight", "@hourly"])
def test_crontab_macros_are_kept(macro: str) -> None:
    (job,) = bodies(f"{macro} run-it now\n")
    assert job["schedule"] == macro and job["command"] == "run-it now"


@pytest.mark.parametrize(("text", "env"), [
    ("FOO=bar\n", {"FOO": "bar"}),
    ("FOO = bar baz  \n", {"FOO": "bar baz"}),
    ("FOO='a b'\n", {"FOO": "a b"}),
    ('FOO="a=b"\n', {"FOO": "a=b"}),
    ('"FOO"=x\n', {"FOO": "x"}),
    ("FOO=\n", {"FOO": ""}),
    ("SHELL=/bin/bash\nPATH=/usr/bin:/bin\n", {"SHELL": "/bin/bash", "PATH": "/usr/bin:/bin"}),
])
def test_crontab_env_assignments(text: str, env: dict) -> None:
    (job,) = bodies(text + "* * * * * true\n")
    assert job["env"] == env


def test_crontab_env_applies_only_to_later_lines() -> None:
    a, b, c = bodies("* * * * * a\nA=1\n* * * * * b\nA=2\nB=3\n* * * * * c\n")
    assert "env" not in a and b["env"] == {"A": "1"} and c["env"] == {"A": "2", "B": "3"}


def test_crontab_tz_variables_set_the_job_tz() -> None:
    a, b, c = bodies("0 1 * * * a\nCRON_TZ=Europe/Berlin\n0 1 * * * b\nTZ=Asia/Tokyo\n"
                     "0 1 * * * c\n", tz="America/New_York")
    assert (a["tz"], b["tz"], c["tz"]) == ("America/New_York", "Europe/Berlin", "Asia/Tokyo")
    assert "env" not in c


def test_crontab_mailto_becomes_notify_email_on_failure() -> None:
    a, b, c = bodies('MAILTO="ops@example.com,dev@example.com"\n* * * * * a\n'
                     "MAILTO=\n* * * * * b\nMAILTO=x@example.org\n* * * * * c\n")
    assert a["notify"] == {"on": ["failure"], "email": ["ops@example.com", "dev@example.com"]}
    assert "notify" not in b and "env" not in b
    assert c["notify"]["email"] == ["x@example.org"]


def test_crontab_random_delay_becomes_jitter() -> None:
    (job,) = bodies("RANDOM_DELAY=10\n* * * * * a\n")
    assert job["jitter"] == "10m" and "env" not in job


def test_crontab_user_field() -> None:
    jobs = bodies("SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
                  "@daily www-data php /srv/cron.php\n", user_field=True)
    assert [(j["user"], j["schedule"], j["command"]) for j in jobs] == [
        ("root", "17 * * * *", "cd / && run-parts --report /etc/cron.hourly"),
        ("www-data", "@daily", "php /srv/cron.php")]


def test_crontab_system_paths_are_detected() -> None:
    assert is_system_crontab("/etc/crontab") and is_system_crontab("/etc/cron.d/php")
    assert not is_system_crontab("/var/spool/cron/alice")
    assert not is_system_crontab("/home/u/etc/crontab")


def test_crontab_escaped_percent_becomes_percent() -> None:
    (job,) = bodies("0 0 * * * tar czf /b/$(date +\\%F).tgz /srv\n")
    assert job["command"] == "tar czf /b/$(date +%F).tgz /srv"


def test_crontab_names_from_prefix_and_directive() -> None:
    jobs = bodies("# raftcron: name=nightly-backup\n0 2 * * * a\n0 3 * * * b\n"
                  "# raftcron: name=ignored\n\n0 4 * * * c\n", prefix="host1")
    assert [j["name"] for j in jobs] == ["nightly-backup", "host1-2", "host1-3"]


def test_crontab_default_prefix_is_a_valid_name() -> None:
    assert default_prefix("/etc/cron.d/php") == "php"
    assert default_prefix("/tmp/my crontab.txt") == "my-crontab"
    assert default_prefix("/etc/crontab") == "crontab"
    assert default_prefix("/tmp/.hidden") == "hidden"


def test_crontab_cronie_no_log_flag_is_dropped() -> None:
    (job,) = bodies("-*/5 * * * * quiet\n")
    assert job["schedule"] == "*/5 * * * *"


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("@reboot /usr/bin/start\n", 1, "@reboot is not supported"),
    ("# c\n* * * * * echo 50%\n", 2, "unescaped '%'"),
    ("* * * * * printf 'a\\nb' | mail -s x%y\n", 1, "unescaped '%'"),
    ("* * * *\n", 1, "five schedule fields"),
    ("* * * * * \n", 1, "five schedule fields"),
    ("@daily\n", 1, "a macro"),
    ("@every 5m x\n", 1, "unknown macro '@every'"),
    ("\n\n61 * * * * x\n", 3, "minute"),
    ("* * * * * root\n", 1, "a user"),
    ("CRON_TZ=Mars/Base\n", 1, "CRON_TZ: "),
    ("RANDOM_DELAY=soon\n", 1, "RANDOM_DELAY"),
    ("MAILTO=not-an-address\n* * * * * x\n", 2, "notify.email"),
    ("RAFTCRON_JOB=x\n* * * * * x\n", 2, "env.RAFTCRON_JOB"),
    ("# raftcron: label=x\n* * * * * x\n", 1, "name=NAME"),
    ("# raftcron: name=bad/name\n* * * * * x\n", 2, "name"),
    ("# raftcron: name=a\n* * * * * x\n# raftcron: name=a\n* * * * * y\n", 4,
     "already used on line 2"),
])
def test_crontab_errors_name_the_line(text: str, line: int, needle: str) -> None:
    user_field = "root" in text
    (err,) = errors(text, user_field=user_field)
    assert err[0] == line and needle in err[1], err


def test_crontab_error_lists_every_bad_line_with_the_file() -> None:
    with pytest.raises(CrontabError) as info:
        parse_crontab("@reboot a\n0 * * * * ok\n* * * * * 5%\n", file="/etc/cron.d/x")
    assert [e.line for e in info.value.errors] == [1, 3]
    lines = info.value.message.splitlines()
    assert lines[0].startswith("/etc/cron.d/x:1: ") and lines[1].startswith("/etc/cron.d/x:3: ")


def test_crontab_every_job_validates_through_the_model() -> None:
    text = ("SHELL=/bin/bash\nMAILTO=a@example.com\nCRON_TZ=Europe/Berlin\nRANDOM_DELAY=3\n"
            "*/15 9-17 * * mon-fri root /usr/bin/check\n@weekly nobody /bin/true\n")
    for job in bodies(text, user_field=True):
        built = job_from_dict(job)
        assert built.tz == "Europe/Berlin" and built.env == {"SHELL": "/bin/bash"}
