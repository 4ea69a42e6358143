"""``/api/v1/system-parameters``: the password policy and other run-time settings."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from meterhub.inventory import parameters as ops
from meterhub.webapi.crud.refs import serialize_writes
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.parameters.schemas import ParameterSchema, ParameterUpdateSchema
from meterhub.webapi.security import current_access, request_session

blp = Blueprint(
    "system_parameters",
    __name__,
    url_prefix="/api/v1/system-parameters",
    description="System parameters (password policy, login sessions, tokens)",
)


def _present(name: str, value: Any) -> dict[str, Any]:
    definition = ops.PARAMETERS[name]
    return {
        "name": name,
        "value": value,
        "default": definition.default,
        "kind": definition.kind,
        "description": definition.description,
        "minimum": definition.minimum,
        "maximum": definition.maximum,
        "choices": list(definition.choices),
    }


@blp.route("")
class Parameters(MethodView):
    """Every system parameter."""

    @blp.response(200, ParameterSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List the system parameters with their values and definitions"""
        current_access().require("system_parameter", "view")
        values = ops.parameter_values(request_session())
        return [_present(name, value) for name, value in values.items()]


@blp.route("/<string:name>")
class Parameter(MethodView):
    """One system parameter."""

    @blp.etag
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ParameterSchema)
    def get(self, name: str) -> dict[str, Any]:
        """Get a system parameter"""
        current_access().require("system_parameter", "view")
        return _present(name, ops.get_parameter(request_session(), name))

    @blp.etag
    @blp.arguments(ParameterUpdateSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ParameterSchema)
    def patch(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Set a system parameter

        Send the ETag of the last GET in If-Match.
        """
        current_access().require("system_parameter", "edit")
        session = request_session()
        serialize_writes(session)
        blp.check_etag(_present(name, ops.get_parameter(session, name)), ParameterSchema)
        value = ops.set_parameter(session, name, data["value"])
        session.commit()
        return _present(name, value)

    @blp.etag
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ParameterSchema)
    def delete(self, name: str) -> dict[str, Any]:
        """Reset a system parameter to its default

        Send the ETag of the last GET in If-Match.
        """
        current_access().require("system_parameter", "edit")
        session = request_session()
        serialize_writes(session)
        blp.check_etag(_present(name, ops.get_parameter(session, name)), ParameterSchema)
        value = ops.reset_parameter(session, name)
        session.commit()
        return _present(name, value)
