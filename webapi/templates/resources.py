"""``/api/v1/templates``: templates of elements and their attributes."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from meterhub.errors import InvalidValue
from meterhub.inventory import templates as ops
from meterhub.model.templates import Template
from meterhub.webapi.crud import Resource, load_object, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.templates.schemas import (
    AttributeCreateSchema,
    AttributeUpdateSchema,
    TemplateCreateSchema,
    TemplateSchema,
    TemplateUpdateSchema,
)

blp = Blueprint(
    "templates", __name__, url_prefix="/api/v1/templates", description="Templates of elements"
)

RESOURCE = Resource(
    name="templates",
    object_type="template",
    model=Template,
    schema=TemplateSchema,
    title="templates",
    create_schema=TemplateCreateSchema,
    update_schema=TemplateUpdateSchema,
    create=lambda session, access, data: ops.create_template(session, data.pop("name"), **data),
    update=lambda session, access, template, data: ops.change_template(session, template, **data),
    delete=lambda session, access, template: ops.delete_template(session, template),
    search=(Template.name, Template.kind),
    default_sort="name",
    load_options=(selectinload(Template.attributes),),
)
register_resource(blp, RESOURCE)


def _template(object_id: int) -> Template:
    access = current_access()
    access.require("template", "edit")
    return load_object(request_session(), access, RESOURCE, object_id, for_update=True)


@blp.route("/<int:object_id>/attributes")
class Attributes(MethodView):
    """The attributes of a template."""

    @blp.arguments(AttributeCreateSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(201, TemplateSchema)
    def post(self, data: dict[str, Any], object_id: int) -> Template:
        """Add an attribute to a template"""
        template = _template(object_id)
        session = request_session()
        ops.add_attribute(session, template, data.pop("name"), data.pop("value_type"), **data)
        session.commit()
        return template


@blp.route("/<int:object_id>/attributes/<string:name>")
class Attribute(MethodView):
    """One attribute of a template."""

    @blp.arguments(AttributeUpdateSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, TemplateSchema)
    def patch(self, data: dict[str, Any], object_id: int, name: str) -> Template:
        """Change an attribute of a template"""
        template = _template(object_id)
        session = request_session()
        if template.attribute(name) is None:
            raise InvalidValue("name", f"template {template.name!r} has no attribute {name!r}")
        ops.change_attribute(session, template, name, **data)
        session.commit()
        return template

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, TemplateSchema)
    def delete(self, object_id: int, name: str) -> Template:
        """Remove an attribute from a template (and its value from every instance)"""
        template = _template(object_id)
        session = request_session()
        if template.attribute(name) is None:
            raise InvalidValue("name", f"template {template.name!r} has no attribute {name!r}")
        ops.remove_attribute(session, template, name)
        session.commit()
        return template
