"""A resource (one object type) and the views the framework builds for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import BigInteger, Column, func, select
from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.errors import NotFound
from meterhub.webapi.crud.listing import (
    PageSchema,
    apply_filters,
    apply_search,
    apply_sort,
    arguments_schema,
    filter_columns,
)
from meterhub.webapi.crud.refs import serialize_writes
from meterhub.webapi.extensions import Blueprint, Schema
from meterhub.webapi.security import current_access, request_session

#: ``create(session, access, data) -> object``
Create = Callable[[Session, AccessContext, dict[str, Any]], Any]
#: ``update(session, access, object, data) -> object``
Update = Callable[[Session, AccessContext, Any, dict[str, Any]], Any]
#: ``delete(session, access, object) -> None``
Delete = Callable[[Session, AccessContext, Any], None]


@dataclass
class Resource:
    """One object type served as a REST resource.

    ``name`` is the URL segment (``meters``); ``object_type`` the permission and segment type
    (``meter``); ``schema`` dumps an object; ``create_schema``/``update_schema`` load request
    bodies (``update_schema`` with every field optional: PATCH). ``create``/``update``/``delete``
    call the inventory operations (``None``: the operation is not offered). ``search`` lists
    the columns of the quick search; ``exclude_filters`` columns not to filter on.
    """

    name: str
    object_type: str
    model: type
    schema: type[Schema]
    title: str
    create_schema: type[Schema] | None = None
    update_schema: type[Schema] | None = None
    create: Create | None = None
    update: Update | None = None
    delete: Delete | None = None
    search: Sequence[Any] = ()
    exclude_filters: Sequence[str] = ()
    default_sort: str = "id"
    load_options: Sequence[Any] = ()
    extra_filters: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def columns(self) -> dict[str, Column[Any]]:
        """Columns to filter and sort on."""
        return filter_columns(self.model, self.exclude_filters)

    @cached_property
    def arguments(self) -> type[Schema]:
        """The query arguments of the list."""
        return arguments_schema(self.model.__name__, self.columns)

    @cached_property
    def page_schema(self) -> type[Schema]:
        """A page of the list: ``items`` plus the page's numbers."""
        return PageSchema.from_dict(  # type: ignore[return-value]
            {"items": ma.fields.List(ma.fields.Nested(self.schema), required=True)},
            name=f"{self.model.__name__}Page",
        )


def load_object(
    session: Session,
    access: AccessContext,
    resource: Resource,
    object_id: int,
    *,
    for_update: bool = False,
) -> Any:
    """The object ``object_id`` of ``resource`` within the user's segments; :class:`NotFound`
    when there is none or the user may not see it (the two cannot be told apart)."""
    model = resource.model
    if not 0 < object_id <= _largest_id(model):
        raise NotFound(f"there is no {resource.object_type} with id {object_id}")
    statement = access.scope.restrict(
        select(model).where(model.id == object_id), resource.object_type
    )  # type: ignore[attr-defined]
    if for_update:
        serialize_writes(session)
        statement = statement.with_for_update(of=model)
    found = session.scalar(statement.options(*resource.load_options))
    if found is None:
        raise NotFound(f"there is no {resource.object_type} with id {object_id}")
    return found


def _largest_id(model: type) -> int:
    """The largest id the model's primary key column can hold."""
    column = model.__table__.c.id  # type: ignore[attr-defined]
    big = isinstance(column.type, BigInteger) or isinstance(
        getattr(column.type, "impl", None), BigInteger
    )
    return 2**63 - 1 if big else 2**31 - 1


def list_objects(
    session: Session, access: AccessContext, resource: Resource, args: dict[str, Any]
) -> dict[str, Any]:
    """One page of the objects of ``resource`` the user may see, filtered, searched, sorted."""
    statement = access.scope.restrict(select(resource.model), resource.object_type)
    statement = apply_filters(statement, resource.columns, args)
    statement = apply_search(statement, resource.search, args.get("q"))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page, size = args["page"], args["page_size"]
    statement = apply_sort(statement, resource.columns, args.get("sort"), resource.default_sort)
    statement = statement.options(*resource.load_options).limit(size).offset((page - 1) * size)
    items = list(session.scalars(statement))
    return {"items": items, "total": int(total), "page": page, "page_size": size}


def _named(function: Callable[..., Any], name: str, doc: str) -> Callable[..., Any]:
    function.__name__ = name
    function.__doc__ = doc
    return function


def register_resource(blp: Blueprint, resource: Resource, url: str = "") -> None:
    """Register the list/create and get/update/delete views of ``resource`` on ``blp``."""
    kind = resource.object_type
    title = resource.title

    def list_view(self: MethodView, args: dict[str, Any]) -> dict[str, Any]:
        access = current_access()
        access.require(kind, "view")
        return list_objects(request_session(), access, resource, args)

    collection: dict[str, Any] = {
        "get": blp.response(200, resource.page_schema)(
            blp.arguments(resource.arguments, location="query", unknown=ma.RAISE)(
                _named(
                    list_view,
                    "get",
                    f"List {title}\n\nPaged; filters on any column, multi-column sort, quick "
                    "search `q`. Only objects of the user's data segments are listed.",
                )
            )
        )
    }
    if resource.create is not None and resource.create_schema is not None:
        create = resource.create

        def create_view(self: MethodView, data: dict[str, Any]) -> Any:
            access = current_access()
            access.require(kind, "create")
            session = request_session()
            serialize_writes(session)
            created = create(session, access, data)
            session.commit()
            return created

        collection["post"] = blp.etag(
            blp.response(201, resource.schema)(
                blp.arguments(resource.create_schema)(
                    _named(create_view, "post", f"Create {title.rstrip('s')}")
                )
            )
        )
    blp.add_url_rule(
        url or "", view_func=type(f"{resource.model.__name__}Collection", (MethodView,), collection)
    )

    def get_view(self: MethodView, object_id: int) -> Any:
        access = current_access()
        access.require(kind, "view")
        return load_object(request_session(), access, resource, object_id)

    item: dict[str, Any] = {
        "get": blp.etag(
            blp.alt_response(404, response="NOT_FOUND")(
                blp.response(200, resource.schema)(
                    _named(get_view, "get", f"Get one of the {title}")
                )
            )
        )
    }
    if resource.update is not None and resource.update_schema is not None:
        update = resource.update

        def update_view(self: MethodView, data: dict[str, Any], object_id: int) -> Any:
            access = current_access()
            access.require(kind, "edit")
            session = request_session()
            found = load_object(session, access, resource, object_id, for_update=True)
            blp.check_etag(found, resource.schema)
            changed = update(session, access, found, data)
            session.commit()
            return changed

        item["patch"] = blp.etag(
            blp.alt_response(404, response="NOT_FOUND")(
                blp.response(200, resource.schema)(
                    blp.arguments(resource.update_schema)(
                        _named(
                            update_view,
                            "patch",
                            f"Change one of the {title}\n\n"
                            "Send the ETag of the last GET in If-Match.",
                        )
                    )
                )
            )
        )
    if resource.delete is not None:
        delete = resource.delete

        def delete_view(self: MethodView, object_id: int) -> None:
            access = current_access()
            access.require(kind, "delete")
            session = request_session()
            found = load_object(session, access, resource, object_id, for_update=True)
            blp.check_etag(found, resource.schema)
            delete(session, access, found)
            session.commit()

        item["delete"] = blp.etag(
            blp.alt_response(404, response="NOT_FOUND")(
                blp.response(204)(
                    _named(
                        delete_view,
                        "delete",
                        f"Delete one of the {title}\n\nSend the ETag of the last GET in If-Match.",
                    )
                )
            )
        )
    blp.add_url_rule(
        f"{url}/<int:object_id>",
        view_func=type(f"{resource.model.__name__}Item", (MethodView,), item),
    )
