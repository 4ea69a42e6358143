"""Bulk key import: CSV and XML key files into the encrypted credential store (and the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterhub.credentials import CredentialCipher, generate_key
from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.inventory.meters import create_meter, read_credentials
from meterhub.model.meters import Meter
from meterhub.plugins.drivers.mbus.wireless.driver import WmbusDriver
from meterhub.plugins.drivers.mbus.wireless.keys import import_keys, read_key_file

DRIVERS = {"wmbus": WmbusDriver}
KEY_A = "000102030405060708090A0B0C0D0E0F"
KEY_B = "F0E0D0C0B0A090807060504030201000"

CSV = f"""Serial Number;Manufacturer;AES Key
32000001;MHB;{KEY_A}
32000002;MHB;{KEY_B.lower()}
99999999;MHB;{KEY_A}
""".encode()

XML = f"""<?xml version="1.0" encoding="utf-8"?>
<KeyFile xmlns="urn:example:keys">
  <Meter><MeterId>32000001</MeterId><AesKey>{KEY_A}</AesKey></Meter>
  <Meter id="32000002" key="{KEY_B}" manufacturer="MHB"/>
</KeyFile>
""".encode()


def test_csv_and_xml_key_files_read_the_same() -> None:
    from_csv = {entry.meter_id: entry.key for entry in read_key_file(CSV)}
    from_xml = {entry.meter_id: entry.key for entry in read_key_file(XML)}
    assert from_csv == {"32000001": KEY_A, "32000002": KEY_B, "99999999": KEY_A}
    assert from_xml == {"32000001": KEY_A, "32000002": KEY_B}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"id,key\n1234,00\n", "line 2"),
        (b"id,key\n32000001,0011\n", "32 hex digits"),
        (b"name,value\nx,y\n", "header row"),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", "DOCTYPE"),
        (b"<keys><meter", "well-formed"),
        (f"id,key\n32000001,{KEY_A}\n32000001,{KEY_B}\n".encode(), "another key"),
        (b"<keys/>", "no meter keys"),
    ],
)
def test_bad_key_files_name_what_is_wrong(data: bytes, match: str) -> None:
    with pytest.raises(InvalidValue, match=match) as caught:
        read_key_file(data)
    assert KEY_B not in str(caught.value)


def test_import_stores_keys_encrypted_and_reports_unknown_meters(
    session_factory: sessionmaker[Session],
) -> None:
    cipher = CredentialCipher(generate_key())
    with transaction(session_factory) as session:
        for serial in ("32000001", "32000002"):
            create_meter(session, manufacturer="MHB", serial_number=serial, driver="wmbus",
                         driver_settings={"meter_id": serial}, drivers=DRIVERS)  # fmt: skip
        result = import_keys(session, cipher, read_key_file(CSV), drivers=DRIVERS)
    assert result.imported == ["32000001", "32000002"]
    assert result.unknown == ["99999999"]
    with session_factory() as session:
        meters = {m.serial_number: m for m in session.query(Meter).all()}
        assert read_credentials(meters["32000002"], cipher) == {"key": KEY_B}
        assert KEY_B.encode() not in (meters["32000002"].credentials_encrypted or b"")


def test_cli_imports_a_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from meterhub.cli import cli

    monkeypatch.setenv("METERHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("METERHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    keys = tmp_path / "keys.csv"
    keys.write_bytes(CSV)
    result = runner.invoke(cli, ["wmbus", "import-keys", str(keys)])
    assert result.exit_code == 0, result.output
    assert "0 key(s) stored, 3 meter(s) unknown" in result.output
