"""`wearstream developers` and `wearstream token` as real subprocesses: a real SQLite data dir for
the one, the real API on a real socket for the other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import trio

from .conftest import Api

CLI_TIMEOUT = 30


def wearstream() -> list[str]:
    script = Path(sys.executable).with_name("wearstream")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wearstream.entrypoints.cli"]


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEARSTREAM_")}
    env.update({f"WEARSTREAM_{k.upper()}": v for k, v in settings.items()})
    return env


def cli(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*wearstream(), *args], capture_output=True, text=True, timeout=CLI_TIMEOUT,
        env=environment(**settings),
    )


async def acli(*args: str, **settings: str) -> subprocess.CompletedProcess[bytes]:
    """cli() for a test whose server must keep running while the command runs."""
    with trio.fail_after(CLI_TIMEOUT):
        return await trio.run_process(
            [*wearstream(), *args], capture_stdout=True, capture_stderr=True, check=False,
            env=environment(**settings),
        )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# developers ------------------------------------------------------------------------------------

def test_create_list_revoke(tmp_path: Path) -> None:
    data = tmp_path / "data" / "nested"
    created = cli("developers", "create", "Acme Labs", "--data-dir", str(data), "--json")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) == 1
    dev = json.loads(lines[0])
    assert set(dev) == {"dev_id", "api_key"}
    assert dev["dev_id"].startswith("dev_") and len(dev["api_key"]) >= 40
    assert data.is_dir()

    human = cli("developers", "--data-dir", str(data), "create", "Second")
    assert human.returncode == 0, human.stderr
    assert "dev_" in human.stdout and "API key" in human.stdout

    listed = cli("developers", "list", "--json", data_dir=str(data))
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["revoked"]) for r in rows] == [("Acme Labs", False), ("Second", False)]
    assert rows[0]["dev_id"] == dev["dev_id"]
    assert dev["api_key"] not in listed.stdout

    revoked = cli("developers", "revoke", dev["dev_id"], "--data-dir", str(data))
    assert revoked.returncode == 0, revoked.stderr
    table = cli("developers", "list", "--data-dir", str(data))
    assert table.returncode == 0
    [line] = [line for line in table.stdout.splitlines() if dev["dev_id"] in line]
    assert "revoked" in line and "Acme Labs" in line


def test_revoking_an_unknown_developer_fails(tmp_path: Path) -> None:
    assert cli("developers", "create", "x", "--data-dir", str(tmp_path)).returncode == 0
    result = cli("developers", "revoke", "dev_nobody", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no developer 'dev_nobody'" in one_line_error(result)


def test_developers_usage_errors(tmp_path: Path) -> None:
    missing_dir = cli("developers", "list")
    assert missing_dir.returncode == 2
    assert "--data-dir" in one_line_error(missing_dir)

    no_such_dir = cli("developers", "list", "--data-dir", str(tmp_path / "typo"))
    assert no_such_dir.returncode == 1
    assert "no data dir" in one_line_error(no_such_dir)
    assert not (tmp_path / "typo").exists()

    blank_name = cli("developers", "create", "  ", "--data-dir", str(tmp_path))
    assert blank_name.returncode == 2
    assert "developer name" in blank_name.stderr

    assert cli("developers", "--data-dir", str(tmp_path)).returncode == 2  # no action


# token -----------------------------------------------------------------------------------------


async def test_token_prints_just_the_token(api: Api) -> None:
    settings = {"api_url": api.url, "dev_id": api.dev.dev_id, "api_key": api.dev.api_key}
    user = await acli("token", "user", "--user-id", "alice", **settings)
    assert user.returncode == 0, user.stderr
    token = user.stdout.decode()
    assert token.endswith("\n") and token.count("\n") == 1
    assert api.tokens.tokens[token.strip()].user_id == "alice"

    developer = await acli(
        "token", "developer", "--api-url", api.url, "--dev-id", api.dev.dev_id,
        "--api-key", api.dev.api_key,
    )
    assert developer.returncode == 0, developer.stderr
    assert api.tokens.tokens[developer.stdout.decode().strip()].user_id is None

    from_env = await acli("token", "user", **settings, user_id="bob")
    assert from_env.returncode == 0, from_env.stderr
    assert api.tokens.tokens[from_env.stdout.decode().strip()].user_id == "bob"


async def test_token_errors(api: Api) -> None:
    wrong = await acli("token", "developer", api_url=api.url, dev_id=api.dev.dev_id, api_key="nope")
    assert wrong.returncode == 1 and wrong.stdout == b""
    message = one_line_error(wrong)
    assert "403" in message and "wrong developer id or API key" in message and "check the options" in message

    no_user = await acli("token", "user", api_url=api.url, dev_id="d", api_key="k")
    assert no_user.returncode == 2
    assert "--user-id" in one_line_error(no_user)

    no_key = await acli("token", "developer", api_url=api.url, dev_id="d")
    assert no_key.returncode == 2
    assert "WEARSTREAM_API_KEY" in one_line_error(no_key)


async def test_token_against_nothing_says_retry() -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        result = await acli("token", "developer", api_url=url, dev_id="d", api_key="k")
    assert result.returncode == 1
    assert "try again later" in one_line_error(result)


async def test_a_created_developer_mints_through_the_real_stores(tmp_path: Path) -> None:
    from datetime import timedelta

    from wearstream.adapters.http.api import build_app
    from wearstream.adapters.http.server import serve_http
    from wearstream.entrypoints.state import open_stores

    created = await acli("developers", "create", "full", "--data-dir", str(tmp_path), "--json")
    assert created.returncode == 0, created.stderr
    dev = json.loads(created.stdout)
    async with open_stores(tmp_path) as stores, trio.open_nursery() as server:
        app = build_app(stores.developers, stores.tokens, token_ttl=timedelta(minutes=5))
        # the nursery (so the server) ends before the stores close
        port = await server.start(serve_http, app, "127.0.0.1", 0)
        settings = {"api_url": f"http://127.0.0.1:{port}", "dev_id": dev["dev_id"]}
        minted = await acli("token", "user", "--user-id", "u1", api_key=dev["api_key"], **settings)
        assert minted.returncode == 0, minted.stderr
        token = await stores.tokens.take(minted.stdout.decode().strip())
        assert token is not None and token.user_id == "u1"

        assert (await acli("developers", "revoke", dev["dev_id"], data_dir=str(tmp_path))).returncode == 0
        refused = await acli("token", "developer", api_key=dev["api_key"], **settings)
        assert refused.returncode == 1
        assert "wrong developer id or API key" in one_line_error(refused)
        server.cancel_scope.cancel()
