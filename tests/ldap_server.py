"""A real OpenLDAP ``slapd`` on a loopback port for the directory tests.

:func:`ensure_slapd` installs Debian's ``slapd`` package when it is missing (as root, with
debconf preseeded so the install asks nothing); when that cannot be done it fails the test with
the reason and the command to run, never hangs (every command has a time limit and no input).
:class:`LdapServer` runs slapd from a configuration file of its own in a temporary directory
(``slapd.conf``, an mdb database), so nothing of the system's LDAP setup is used or changed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SLAPD = "/usr/sbin/slapd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SUFFIX = "dc=meterhub,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "directory-admin-secret"
#: What the package install may take at most (seconds).
INSTALL_TIMEOUT = 600

PRESEED = """\
slapd slapd/domain string meterhub.test
slapd shared/organization string MeterHub
slapd slapd/password1 password directory-admin-secret
slapd slapd/password2 password directory-admin-secret
slapd slapd/no_configuration boolean false
"""


def _run(command: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if "input" not in kwargs:  # no prompt may wait for a terminal
        kwargs["stdin"] = subprocess.DEVNULL
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def ensure_slapd() -> None:
    """Make sure slapd is installed, installing Debian's package if needed, or fail clearly."""
    if Path(SLAPD).exists() and (SCHEMA_DIR / "inetorgperson.schema").exists():
        return
    how = "apt-get install slapd ldap-utils (with debconf preseeded, see tests/ldap_server.py)"
    if shutil.which("apt-get") is None or shutil.which("debconf-set-selections") is None:
        pytest.fail(f"slapd is missing and this machine has no apt-get to install it: {how}")
    if os.geteuid() != 0:
        pytest.fail(f"slapd is missing and installing it needs root: run {how}")
    try:
        _run(["debconf-set-selections"], 60, input=PRESEED)
        install = [
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "slapd",
            "ldap-utils",
        ]
        result = _run(install, INSTALL_TIMEOUT)
        if result.returncode != 0:  # perhaps the package lists are missing or stale
            _run(["apt-get", "update", "-q"], INSTALL_TIMEOUT)
            result = _run(install, INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"installing slapd did not finish within {exc.timeout:.0f} s ({how})")
    if result.returncode != 0 or not Path(SLAPD).exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        pytest.fail(f"installing slapd failed: {' / '.join(tail)} ({how})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LdapServer:
    """A slapd serving ``SUFFIX`` on ``url`` from ``directory``."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"ldap://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Write the configuration and start slapd; wait (at most 15 s) until it answers."""
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        schemas = "\n".join(
            f"include {SCHEMA_DIR / name}.schema"
            for name in ("core", "cosine", "inetorgperson", "nis")
        )
        config = self.directory / "slapd.conf"
        config.write_text(
            f"""{schemas}
modulepath {MODULE_DIR}
moduleload back_mdb
pidfile {self.directory / "slapd.pid"}
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {data}
""",
            encoding="utf-8",
        )
        result = _run([SLAPD, "-f", str(config), "-h", f"{self.url}/"], 30)
        if result.returncode != 0:
            pytest.fail(f"slapd did not start: {result.stderr.strip()[-500:]}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"slapd does not answer on {self.url}")

    def stop(self) -> None:
        """Stop slapd (by the process id it wrote)."""
        pidfile = self.directory / "slapd.pid"
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text().strip())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def populate(self, users: dict[str, str], groups: dict[str, list[str]]) -> None:
        """Add ``users`` (name → password) under ou=people and ``groups`` (name → member
        names) under ou=groups."""
        from ldap3 import Connection, Server

        connection = Connection(Server(self.url), ROOT_DN, ROOT_PASSWORD, auto_bind=True)
        try:
            connection.add(
                SUFFIX, ["dcObject", "organization"], {"o": "MeterHub", "dc": "meterhub"}
            )
            for unit in ("people", "groups"):
                connection.add(f"ou={unit},{SUFFIX}", ["organizationalUnit"], {"ou": unit})
            for name, password in users.items():
                ok = connection.add(
                    f"uid={name},ou=people,{SUFFIX}",
                    ["inetOrgPerson"],
                    {
                        "uid": name,
                        "cn": name.title(),
                        "sn": name.title(),
                        "displayName": f"{name.title()} (directory)",
                        "mail": f"{name}@meterhub.test",
                        "userPassword": password,
                    },
                )
                assert ok, connection.result
            for group, members in groups.items():
                ok = connection.add(
                    f"cn={group},ou=groups,{SUFFIX}",
                    ["groupOfNames"],
                    {"cn": group, "member": [f"uid={m},ou=people,{SUFFIX}" for m in members]},
                )
                assert ok, connection.result
        finally:
            connection.unbind()
