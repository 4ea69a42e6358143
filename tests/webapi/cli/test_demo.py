import json
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from script_fixtures import METERHUB


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_starts_on_sqlite_and_says_where_it_serves(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            METERHUB,
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
            "--meters",
            "1",
        ],
        cwd=tmp_path,
        env=cli_env | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"serves the web UI on (http://\S+)", line)
            url = match.group(1) if match else None
        assert url == f"http://127.0.0.1:{port}/", "".join(lines)
        for _ in range(50):
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert 'id="login-form"' in page  # the start page asks for a login first
        assert "Development license" not in page
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login = urllib.request.Request(
            url + "api/v1/auth/login",
            data=json.dumps({"username": "demo", "password": "meterhub-2026"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with browser.open(login, timeout=5) as response:
            assert json.loads(response.read())["user"]["username"] == "demo"
        with browser.open(url, timeout=5) as response:
            assert "Development license" in response.read().decode()
        with browser.open(url + "api/system", timeout=5) as response:
            info = json.loads(response.read())
        assert info["database"] == "sqlite"
    finally:
        process.terminate()
        remaining, _ = process.communicate(timeout=20)
        lines.append(remaining or "")
    output = "".join(lines)
    assert "demo fleet: 6 simulated meters (6 new, 0 re-addressed)" in output
    assert "log in as 'demo' with the password 'meterhub-2026'" in output
    # every simulated meter answered its driver over a real socket or pty
    assert re.search(r"DLMS-0001 +dlms 127\.0\.0\.1:\d+ +clock [+-]\d+ s", output)
    assert re.search(r"IEC-0001 +iec62056_21 /dev/pts/\d+ +clock [+-]\d+ s", output)
    assert re.search(r"MB-0001 +modbus 127\.0\.0\.1:\d+ +1\.8\.0 = [\d.]+ kWh", output)
    assert re.search(r"P1-0001 +p1 /dev/pts/\d+ +clock [+-]\d+ s", output)
    # the heat meter on the wired bus and the wireless meter (M-Bus, issue 12)
    assert re.search(r"31000001 +mbus 127\.0\.0\.1:\d+ +clock [+-]\d+ s", output)
    assert re.search(r"32000001 +wmbus 127\.0\.0\.1:\d+ +clock [+-]\d+ s", output)
    assert (tmp_path / "demo" / "meterhub.sqlite3").is_file()


def test_a_second_demo_start_keeps_the_data_and_readdresses_the_fleet(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    command = [METERHUB, "demo", "--data-dir", str(tmp_path / "demo"), "--meters", "1"]
    first = subprocess.run(
        [*command, "--no-serve"], cwd=tmp_path, env=cli_env, capture_output=True, text=True
    )
    assert "6 simulated meters (6 new" in first.stdout, first.stdout + first.stderr
    second = subprocess.run(
        [*command, "--no-serve"], cwd=tmp_path, env=cli_env, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr
    assert re.search(r"6 simulated meters \(0 new, [1-6] re-addressed\)", second.stdout)
    assert "DLMS-0001" in second.stdout and "clock" in second.stdout
