"""``/api/v1/scripts``: customer scripts; ``PATCH`` (with If-Match) saves the next version,
``GET .../{id}/versions`` lists them, ``POST .../{id}/test`` tries one on sample data."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meterhub.access import AccessContext
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory import scripts as ops
from meterhub.model.scripts import Script, ScriptVersion
from meterhub.sandbox import Limits, compile_script
from meterhub.sandbox.trial import run_trial, sample_from_json
from meterhub.webapi.crud import Resource, load_object, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.scripts.schemas import (
    ScriptCreateSchema,
    ScriptSchema,
    ScriptTestSchema,
    ScriptVersionCreateSchema,
    ScriptVersionSchema,
    TrialSchema,
)
from meterhub.webapi.security import current_access, request_session

blp = Blueprint("scripts", __name__, url_prefix="/api/v1/scripts", description="Customer scripts")

#: The limits of a trial through the API.
TRIAL_LIMITS = Limits(cpu_seconds=10.0, wall_seconds=21.0, memory_mb=512)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> Script:
    """Save the first version of a new script (a name in use is a clash, not a new version)."""
    clash = session.scalars(select(Script).where(Script.name == data["name"].strip())).first()
    if clash is not None:
        raise Conflict("name", f"a script named {clash.name!r} exists (id {clash.id})")
    row = ops.save_script(session, user=access.username, **data)
    return row.script


def update(session: Session, access: AccessContext, script: Script, data: dict[str, Any]) -> Script:
    """Save ``source`` as the script's next version (refused unless it compiles)."""
    ops.save_script(session, script.name, data["source"], user=access.username, note=data["note"])
    session.refresh(script)
    return script


RESOURCE = Resource(
    name="scripts",
    object_type="script",
    model=Script,
    schema=ScriptSchema,
    title="scripts",
    create_schema=ScriptCreateSchema,
    create=create,
    update_schema=ScriptVersionCreateSchema,
    update=update,
    search=(Script.name, Script.description),
    default_sort="name",
    load_options=(selectinload(Script.versions),),
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/versions")
class ScriptVersions(MethodView):
    """The versions of a script."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ScriptVersionSchema(many=True))
    def get(self, object_id: int) -> list[ScriptVersion]:
        """List the script's versions, oldest first"""
        access = current_access()
        access.require("script", "view")
        script = load_object(request_session(), access, RESOURCE, object_id)
        return list(script.versions)


@blp.route("/<int:object_id>/test")
class ScriptTest(MethodView):
    """Try a script on sample data."""

    @blp.arguments(ScriptTestSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, TrialSchema)
    def post(self, data: dict[str, Any], object_id: int) -> dict[str, Any]:
        """Run the script on sample data

        As `meterhub script test` does: the version (default the current one) runs in the
        sandbox's worker with its limits on the sample, and the answer tells per slot what it
        computed and which slots it found suspect or estimated. A script that fails is
        answered with `ok: false`, the error and the line. Nothing is stored. Needs `create`
        on `script`.
        """
        access = current_access()
        access.require("script", "create")
        session = request_session()
        script = load_object(session, access, RESOURCE, object_id)
        try:
            version, source = ops.script_source(session, script.name, data["version"])
        except NotFound as missing:
            raise InvalidValue("version", str(missing)) from None
        session.commit()
        raw = dict(data["sample"])
        raw["start"] = raw["start"].isoformat()
        sample = sample_from_json(raw)
        compiled = compile_script(source, f"{script.name} v{version}")
        trial = run_trial(
            compiled, sample, country=data["country"], tz=data["tz"], limits=TRIAL_LIMITS
        )
        answer = dataclasses.asdict(trial)
        answer["version"] = version
        return answer
