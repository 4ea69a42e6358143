"""Operations on customer scripts: save (a new version, refused unless it compiles under the
sandbox's rules), read a version, list the versions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import InvalidValue, NotFound
from meterhub.inventory.common import check_name, flush, optional_text
from meterhub.model.scripts import SCRIPT_NAME_LENGTH, SCRIPT_PURPOSES, Script, ScriptVersion
from meterhub.sandbox import compile_script

__all__ = ["save_script", "script_source", "script_versions"]


def save_script(
    session: Session,
    name: str,
    source: str,
    *,
    purpose: str | None = None,
    user: str | None = None,
    note: str | None = None,
    description: str | None = None,
) -> ScriptVersion:
    """Store ``source`` as the next version of script ``name`` (created with ``purpose`` on
    its first save). A source that does not compile is refused: :class:`InvalidValue`
    (``source``) names the line and the reason, and nothing is stored."""
    name = check_name(name, field="name", max_length=SCRIPT_NAME_LENGTH, forbidden="/")
    script = session.scalars(select(Script).where(Script.name == name)).first()
    if script is None:
        if purpose not in SCRIPT_PURPOSES:
            raise InvalidValue(
                "purpose", f"must be one of {', '.join(SCRIPT_PURPOSES)}, not {purpose!r}"
            )
    elif purpose is not None and purpose != script.purpose:
        raise InvalidValue("purpose", f"script {name!r} is a {script.purpose} script")
    version = 1 if script is None else script.version + 1
    compile_script(source, f"{name} v{version}")
    if script is None:
        script = Script(
            name=name,
            purpose=purpose,
            version=1,
            description=optional_text(description, field="description"),
        )
        session.add(script)
    else:
        script.version = version
    row = ScriptVersion(
        script=script,
        version=version,
        source=source,
        saved_at=datetime.now(UTC),
        saved_by=user or str(session.info.get("user", "system")),
        note=optional_text(note, field="note"),
    )
    session.add(row)
    flush(session, field="name")
    return row


def script_source(session: Session, name: str, version: int | None = None) -> tuple[int, str]:
    """``(version, source)`` of script ``name`` (its current version unless ``version``)."""
    script = session.scalars(select(Script).where(Script.name == name)).first()
    if script is None:
        raise NotFound(f"no script named {name!r}")
    wanted = script.version if version is None else version
    row = session.scalars(
        select(ScriptVersion).where(
            ScriptVersion.script_id == script.id, ScriptVersion.version == wanted
        )
    ).first()
    if row is None:
        raise NotFound(f"script {name!r} has no version {wanted}")
    return row.version, row.source


def script_versions(session: Session, name: str) -> list[ScriptVersion]:
    """Every version of script ``name``, oldest first."""
    script = session.scalars(select(Script).where(Script.name == name)).first()
    if script is None:
        raise NotFound(f"no script named {name!r}")
    return list(script.versions)
