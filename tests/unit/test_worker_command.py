"""`python -m workers --queue Q` is parsed without typer; everything else is the ops CLI.
The log level is validated wherever it is set, naming the field."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from platform_spec.model import PlatformSpec
from platform_spec.settings import RuntimeSettings
from workers.engine_factory import pick_engine
from workers.event_loop import event_loop_of
from workers.worker_command import is_worker_command, parser


@pytest.mark.parametrize(
    ("argv", "worker"),
    [
        (["--queue", "q"], True),
        (["-q", "q", "--engine", "stock"], True),
        (["--queue=q"], True),
        ([], False),
        (["--help"], False),
        (["--queue", "q", "--help"], False),
        (["ops", "counts", "--queue", "q"], False),
        (["ops", "dlq", "list", "q"], False),
    ],
)
def test_it_should_tell_the_worker_from_the_ops_commands(argv: list[str], worker: bool) -> None:
    assert is_worker_command(argv) is worker


def test_it_should_parse_the_options_the_ops_cli_documents() -> None:
    args = parser().parse_args(["-q", "emails", "--engine", "stock"])
    assert (args.queue, args.engine) == ("emails", "stock")
    # No --engine: the runtime picks fast, on a Redis Cluster too (engine_factory).
    default = parser().parse_args(["--queue", "emails"]).engine
    assert default is None
    assert (pick_engine(default, False), pick_engine(default, True)) == ("fast", "fast")


def test_it_should_refuse_an_unknown_engine_without_importing_typer() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['workers', '--queue', 'q', '--engine', 'bogus']\n"
        "try:\n"
        "    runpy.run_module('workers', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code, 'typer' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["exit", "2", "False"]
    assert "--engine" in done.stderr and "bogus" in done.stderr


def test_it_should_list_the_worker_options_and_the_ops_commands_in_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "--queue" in done.stdout and "--engine" in done.stdout and "ops" in done.stdout


def test_it_should_name_a_bad_log_level_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULLMQ_PLATFORM_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError, match="log_level"):
        RuntimeSettings()
    monkeypatch.setenv("BULLMQ_PLATFORM_LOG_LEVEL", "DEBUG")
    assert RuntimeSettings().log_level == "debug"
    monkeypatch.delenv("BULLMQ_PLATFORM_LOG_LEVEL")
    assert RuntimeSettings().log_level is None


def test_it_should_name_a_bad_log_level_in_the_spec() -> None:
    values = PlatformSpec().model_dump(by_alias=True)
    values["queues"][1]["logLevel"] = "verbose"
    with pytest.raises(ValidationError) as err:
        PlatformSpec.model_validate(values)
    assert "queues.1.logLevel" in str(err.value)
    assert PlatformSpec().queues[0].log_level == "info"


def test_it_should_run_on_the_queues_event_loop_unless_the_pod_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = PlatformSpec().model_dump(mode="json", by_alias=True)
    a, b = values["queues"][0]["name"], values["queues"][1]["name"]
    values["queues"][1]["eventLoop"] = "asyncio"
    spec = PlatformSpec.model_validate(values)
    assert (event_loop_of(None, spec, a), event_loop_of(None, spec, b)) == ("uvloop", "asyncio")
    assert event_loop_of(None, spec, "missing") == "uvloop"  # the runtime then refuses, naming it
    monkeypatch.delenv("BULLMQ_PLATFORM_EVENT_LOOP", raising=False)
    assert RuntimeSettings().event_loop is None  # unset: the queue's
    monkeypatch.setenv("BULLMQ_PLATFORM_EVENT_LOOP", "ASYNCIO")
    assert RuntimeSettings().event_loop == "asyncio"
    assert event_loop_of(RuntimeSettings().event_loop, spec, a) == "asyncio"  # the pod wins
    monkeypatch.setenv("BULLMQ_PLATFORM_EVENT_LOOP", "trio")
    with pytest.raises(ValidationError, match="event_loop"):
        RuntimeSettings()
    values["queues"][1]["eventLoop"] = "trio"
    with pytest.raises(ValidationError, match=r"queues\.1\.eventLoop"):
        PlatformSpec.model_validate(values)
