"""``meterhub license``: show the license in use; sign licenses and create keys (vendor side).

None of these commands needs a database or an application context: ``show`` reads only the
settings and the license file.
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from meterhub.cli.output import echo_table
from meterhub.cli.state import current_state
from meterhub.errors import ConfigurationError, LicenseError
from meterhub.licensing import KNOWN_LIMITS, generate_keypair, load_license, sign_license

_NEVER = "never"


@click.group("license")
def license_group() -> None:
    """Show the license in use; sign licenses and create signing keys."""


# -- show -------------------------------------------------------------------------------------


@license_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the license as JSON.")
def show_command(as_json: bool) -> None:
    """Verify the configured license file and describe it (development license without one)."""
    try:
        settings = current_state().settings()
        license_ = load_license(settings.effective_license_file, settings.license_public_key)
    except (ConfigurationError, LicenseError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(license_.as_dict(), indent=2, ensure_ascii=False))
        return
    echo_table((f"{label}:", value) for label, value in license_.summary())


# -- sign -------------------------------------------------------------------------------------


def _utc_today() -> date:
    """Today's date in UTC: the default issue date, never ahead of a customer's calendar."""
    return datetime.now(UTC).date()


def _parse_limits(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, int]:
    limits: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        name, number = name.strip(), number.strip()
        if not sep or not name or not number.isdigit():
            raise click.BadParameter(f"--limit expects NAME=NUMBER, got {value!r}", ctx, param)
        if name not in KNOWN_LIMITS:
            known = ", ".join(sorted(KNOWN_LIMITS))
            raise click.BadParameter(f"unknown limit {name!r}; known limits: {known}", ctx, param)
        if name in limits:
            raise click.BadParameter(f"limit {name!r} is given twice", ctx, param)
        limits[name] = int(number)
    return limits


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check a date option (YYYY-MM-DD; ``--expires`` also takes ``never``)."""
    if value is None:
        return None
    allow_never = param.name == "expires"
    if allow_never and value == _NEVER:
        return value
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        accepted = f"YYYY-MM-DD or {_NEVER!r}" if allow_never else "YYYY-MM-DD"
        raise click.BadParameter(
            f"{param.opts[0]} expects {accepted}, got {value!r}", ctx, param
        ) from None


def _read_payload_file(path: Path) -> dict[str, Any]:
    """Read a payload from a TOML or JSON file (by suffix; other names: JSON, then TOML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"payload file {path} cannot be read: {exc}") from exc
    parsers: list[tuple[str, Any]] = [("JSON", json.loads), ("TOML", tomllib.loads)]
    if path.suffix.lower() == ".toml":
        parsers.reverse()
    if path.suffix.lower() in {".toml", ".json"}:
        parsers = parsers[:1]
    problems = []
    for kind, parse in parsers:
        try:
            payload = parse(text)
        except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
            problems.append(f"not {kind} ({exc})")
            continue
        if not isinstance(payload, dict):
            raise click.ClickException(f"payload file {path} must hold an object/table")
        return payload
    raise click.ClickException(f"payload file {path} is {'; '.join(problems)}")


def _payload_from_file(path: Path) -> dict[str, Any]:
    payload = _read_payload_file(path)
    # TOML has no null: "never" says the license does not expire (JSON may use null or "never").
    if payload.get("expires") == _NEVER:
        payload["expires"] = None
    payload.setdefault("issued", _utc_today())
    return payload


@license_group.command("sign")
@click.argument(
    "payload_file",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The vendor's Ed25519 private key (PEM).",
)
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the signed license file.",
)
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--customer", help="The customer's name.")
@click.option("--license-id", help="The license's id, e.g. L-2026-001.")
@click.option(
    "--issued",
    metavar="YYYY-MM-DD",
    callback=_parse_date,
    help="Day of issue (default: today in UTC).",
)
@click.option(
    "--expires",
    metavar="YYYY-MM-DD|never",
    callback=_parse_date,
    help="Last valid day, or 'never'.",
)
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="NAME=NUMBER",
    callback=_parse_limits,
    help=f"A limit ({', '.join(KNOWN_LIMITS)}); repeatable. Unnamed limits are unlimited.",
)
@click.option(
    "--feature",
    "features",
    multiple=True,
    metavar="FEATURE",
    help="An enabled feature or pattern (driver:dlms, driver:*, tariffs, *); repeatable.",
)
def sign_command(
    payload_file: Path | None,
    key_path: Path,
    output: Path,
    force: bool,
    customer: str | None,
    license_id: str | None,
    issued: str | None,
    expires: str | None,
    limits: dict[str, int],
    features: tuple[str, ...],
) -> None:
    """Sign a license: from PAYLOAD_FILE (TOML or JSON) or from the options.

    A payload file has the fields customer, license_id, issued (optional, default today),
    expires (a date, or "never"), limits (a table) and features (a list).
    """
    if payload_file is not None:
        given = [
            option
            for option, value in (
                ("--customer", customer),
                ("--license-id", license_id),
                ("--issued", issued),
                ("--expires", expires),
                ("--limit", limits),
                ("--feature", features),
            )
            if value
        ]
        if given:
            raise click.UsageError(
                f"give either a payload file or the options, not both (got {', '.join(given)})"
            )
        payload = _payload_from_file(payload_file)
    else:
        for option, value in (
            ("--customer", customer),
            ("--license-id", license_id),
            ("--expires", expires),
        ):
            if value is None:
                raise click.UsageError(f"{option} is required without a payload file")
        payload = {
            "customer": customer,
            "license_id": license_id,
            "issued": issued or _utc_today().isoformat(),
            "expires": None if expires == _NEVER else expires,
            "limits": limits,
            "features": list(features),
        }
    if output.exists() and not force:
        raise click.ClickException(f"{output} already exists; use --force to overwrite it")
    try:
        text = sign_license(payload, key_path)
    except LicenseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    signed = json.loads(text)["payload"]
    click.echo(f"signed license {signed['license_id']} for {signed['customer']}: {output}")


# -- keygen -----------------------------------------------------------------------------------


@license_group.command("keygen")
@click.option(
    "--private",
    "private_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new private key (mode 0600). Keep it secret.",
)
@click.option(
    "--public",
    "public_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new public key.",
)
def keygen_command(private_path: Path, public_path: Path) -> None:
    """Create an Ed25519 key pair for signing licenses; never overwrites a file."""
    try:
        generate_keypair(private_path, public_path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"private key: {private_path} (keep it secret, never commit it)")
    click.echo(f"public key:  {public_path} (verifies licenses: the license_public_key setting)")
