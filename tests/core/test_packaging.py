"""The distribution holds every package and data file: what `pip install .` installs."""

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = {"core": "meterhub", "plugins": "meterhub.plugins", "webapi": "meterhub.webapi"}


def _declared_packages() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}


def _source_packages() -> set[str]:
    found = set()
    for tree, name in TREES.items():
        for init in (ROOT / tree).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / tree)
            found.add(".".join([name, *relative.parts]))
    return found


def test_every_source_package_is_declared_in_setup_cfg() -> None:
    missing = _source_packages() - _declared_packages()
    assert not missing, f"add to [options] packages in setup.cfg: {sorted(missing)}"


def test_pyproject_only_names_the_build_backend() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert "[build-system]" in text
    assert "[project]" not in text and "[tool." not in text


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy: an in-place build would rewrite the checkout's egg-info and build/.
    source = out / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(out), str(source)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (path,) = out.glob("meterhub-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_every_package(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for package in _source_packages():
        assert package.replace(".", "/") + "/__init__.py" in names, package


def test_the_wheel_holds_the_data_files(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "meterhub/migrations/env.py" in names
    assert "meterhub/migrations/script.py.mako" in names
    assert any(n.startswith("meterhub/migrations/versions/0001") for n in names)
    assert "meterhub/licensing/vendor_public_key.pem" in names
    assert "meterhub/webapi/ui/templates/base.html" in names
    assert "meterhub/webapi/ui/static/meterhub.css" in names


def test_the_wheel_declares_entry_points_and_license(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "meterhub = meterhub.cli:main" in text
    assert "[meterhub.drivers]" in text
    assert "[meterhub.commands]" in text
    assert "serve = meterhub.webapi.cli:serve_command" in text
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    assert "GPL-2.0-or-later" in wheel.read(metadata).decode()
