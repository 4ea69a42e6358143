import logging
from pathlib import Path

import pytest

from meterhub.config import load_settings, normalize_database_url
from meterhub.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("METERHUB_"):
            monkeypatch.delenv(name)


def test_defaults_are_embedded_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'var' / 'meterhub.sqlite3'}"
    assert settings.effective_license_file is None
    assert settings.effective_credential_key_file == Path("var/credentials.key")


def test_toml_file_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "meterhub.toml").write_text('port = 9090\ndata_dir = "/srv/mh"\n')
    settings = load_settings()
    assert settings.port == 9090
    assert settings.data_dir == Path("/srv/mh")


def test_environment_wins_over_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('port = 9090\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("METERHUB_CONFIG", str(config))
    monkeypatch.setenv("METERHUB_PORT", "7070")
    settings = load_settings()
    assert settings.port == 7070
    assert settings.host == "0.0.0.0"


def test_a_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERHUB_CONFIG", "/nonexistent/meterhub.toml")
    with pytest.raises(ConfigurationError, match="/nonexistent/meterhub.toml"):
        load_settings()


def test_plugins_only_accepts_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERHUB_PLUGINS_ONLY", '["simulated", "memory"]')
    assert load_settings().plugins_only == ["simulated", "memory"]
    monkeypatch.setenv("METERHUB_PLUGINS_ONLY", "simulated,memory")
    assert load_settings().plugins_only == ["simulated", "memory"]
    assert load_settings(plugins_only="a, b,").plugins_only == ["a", "b"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("oracle://u:p@h/svc", "oracle+oracledb://u:p@h/svc"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
    ],
)
def test_database_urls_get_the_supported_driver(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected
    assert load_settings(database_url=given).effective_database_url == expected


def test_an_unsupported_database_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(database_url="mysql://u@h/db")
    assert "database_url" in str(error.value)
    assert "'mysql'" in str(error.value)


def test_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    (tmp_path / "meterhub.toml").write_text("prot = 1\n")
    with pytest.raises(ConfigurationError, match="prot"):
        load_settings()


def test_an_ill_typed_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERHUB_PORT", "eighty")
    with pytest.raises(ConfigurationError, match="port"):
        load_settings()


def test_a_malformed_toml_file_is_named_with_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "meterhub.toml").write_text("port = 8080\n[oops\n")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"settings file {tmp_path / 'meterhub.toml'} is not valid TOML")
    assert "line 2, column" in message


@pytest.mark.parametrize("port", [0, 65536, -80])
def test_a_port_out_of_range_is_refused(port: int) -> None:
    with pytest.raises(ConfigurationError, match="port"):
        load_settings(port=port)
    assert load_settings(port=1).port == 1
    assert load_settings(port=65535).port == 65535


def test_the_log_level_is_checked_and_upper_cased() -> None:
    assert load_settings(log_level="warning").log_level == "WARNING"
    with pytest.raises(ConfigurationError) as error:
        load_settings(log_level="chatty")
    assert str(error.value) == (
        "invalid settings: log_level: unknown log level 'chatty'; "
        "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


def test_unknown_meterhub_variables_are_warned_about_by_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("METERHUB_PROT", "9090")
    monkeypatch.setenv("METERHUB_ZZZ", "1")
    monkeypatch.setenv("METERHUB_TEST_DB", "sqlite")  # the test suite's own switch
    monkeypatch.setenv("METERHUB_PORT", "9091")
    with caplog.at_level(logging.WARNING, logger="meterhub.config"):
        settings = load_settings()
    assert settings.port == 9091
    assert [record.getMessage() for record in caplog.records] == [
        "METERHUB_PROT names no setting and is ignored (did you mean METERHUB_PORT?)",
        "METERHUB_ZZZ names no setting and is ignored",
    ]


def test_a_database_url_is_checked_without_repeating_it() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(database_url="postgresql://u:pa55word@host:port/db")
    assert "pa55word" not in str(error.value)
    assert "port of the database URL is not a number" in str(error.value)
