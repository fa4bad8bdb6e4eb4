"""The 'runcancel mock' command: arguments, the key chain, the start line, and start errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from runcancel.cli import build_parser, main
from runcancel.mock import DEFAULT_API_KEY
from runcancel.mock.cli import mock_api_key


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(
            ["mock", "--port", "99999"], "argument --port: expected a port number from 0 to 65535", id="port"
        ),
        pytest.param(["mock", "--port", "http"], "argument --port", id="port-word"),
        pytest.param(
            ["mock", "--step", "-1"], "argument --step: expected a number of seconds >= 0", id="step"
        ),
        pytest.param(["mock", "--cancel-delay", "nan"], "argument --cancel-delay", id="cancel-delay"),
        pytest.param(["mock", "--colour"], "unrecognized arguments: --colour", id="unknown-option"),
        pytest.param(["serve"], "invalid choice: 'serve'", id="unknown-command"),
        pytest.param([], "choose a command", id="no-command"),
    ],
)
def test_bad_command_line_exits_2_with_a_one_line_reason(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """A command line it cannot act on: exit code 2, 'runcancel: <reason>' on stderr, no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("runcancel: ")
    assert fragment in last
    assert "Traceback" not in err


def test_help_shows_every_option_with_its_default_the_key_and_the_base_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """'runcancel mock --help' exits 0 and names each option's default, the mock's key and the base URL."""
    assert main(["mock", "--help"]) == 0
    raw = capsys.readouterr().out
    out = " ".join(raw.split())
    sections = {part.split()[0]: part for part in raw.split("\n  --")[1:]}
    for option in (
        "host",
        "port",
        "api-key",
        "pace",
        "step",
        "cancel-delay",
        "era",
        "rate-limit",
        "retired",
        "cancel-race",
        "seed",
        "max-stored-bytes",
        "header-timeout",
        "keep-alive",
        "http",
        "log",
    ):
        assert "(default" in " ".join(sections[option].split()), option
    assert DEFAULT_API_KEY in out
    assert "http://127.0.0.1:4010/v1" in out
    assert "OPENAI_BASE_URL" in out


def test_mock_options_default_to_not_given() -> None:
    """--api-key, --step and --cancel-delay default to None so 'not given' differs from a value."""
    args = build_parser().parse_args(["mock"])
    assert (args.host, args.port, args.api_key, args.step, args.cancel_delay) == (
        "127.0.0.1",
        4010,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("option", "environ", "expected"),
    [
        pytest.param("sk-option", {"OPENAI_API_KEY": "sk-env"}, ("sk-option", "--api-key"), id="option-wins"),
        pytest.param(None, {"OPENAI_API_KEY": "sk-env"}, ("sk-env", "OPENAI_API_KEY"), id="environment"),
        pytest.param(None, {"OPENAI_API_KEY": ""}, (DEFAULT_API_KEY, "the built-in default"), id="empty-env"),
        pytest.param(None, {}, (DEFAULT_API_KEY, "the built-in default"), id="default"),
    ],
)
def test_key_chain_is_option_then_environment_then_default(
    option: str | None, environ: dict[str, str], expected: tuple[str, str]
) -> None:
    """The mock's key comes from --api-key, else OPENAI_API_KEY, else the built-in default."""
    assert mock_api_key(option, environ, DEFAULT_API_KEY) == expected


def test_port_in_use_exits_2_with_one_paragraph(capsys: pytest.CaptureFixture[str], busy_port: int) -> None:
    """A port in use: exit code 2 and one 'runcancel: cannot start ...' paragraph, no traceback."""
    assert main(["mock", "--port", str(busy_port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"runcancel: cannot start the mock server on 127.0.0.1:{busy_port}")
    assert "already in use" in err
    assert err.count("\n") == 1


def test_start_line_names_the_key_source_and_ctrl_c_exits_0() -> None:
    """The server prints one start line with its URL and the key's source (never the key); Ctrl-C ends it."""
    environ = {**os.environ, "OPENAI_API_KEY": "sk-from-env-var"}
    code = "import sys; from runcancel.cli import main; sys.exit(main())"
    with subprocess.Popen(
        [sys.executable, "-c", code, "mock", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            sdk = process.stdout.readline()
            assert line.startswith("runcancel mock: listening on http://127.0.0.1:")
            assert line.endswith("/v1 (API key from OPENAI_API_KEY)\n")
            assert f"export OPENAI_BASE_URL={line.split()[4]}" in sdk
            assert "sk-from" not in line + sdk
            request = urllib.request.Request(
                f"{line.split()[4]}/threads",
                method="POST",
                headers={"Authorization": "Bearer sk-from-env-var", "OpenAI-Beta": "assistants=v2"},
            )
            with urllib.request.urlopen(request, timeout=5) as answer:
                assert answer.status == 200
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
        _, err = process.communicate()
    assert "Traceback" not in err
