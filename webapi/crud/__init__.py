"""The resource framework: list, get, create, update, delete for any object type in a few lines.

A resource is described by a :class:`~meterhub.webapi.crud.resource.Resource` (model, object
type, schemas, and the inventory operations that create, change and delete) and registered on a
blueprint with :func:`~meterhub.webapi.crud.resource.register_resource`. The framework gives it:

* ``GET /<name>``: pagination (``page``, ``page_size``), filters on any column (``col``,
  ``col__ne``, ``col__lt``/``le``/``gt``/``ge``, ``col__contains``, ``col__startswith``,
  ``col__null``), multi-column sort (``sort=name,-id``), the quick search ``q``;
* ``GET /<name>/<id>`` with an ``ETag``; ``PATCH`` and ``DELETE`` need ``If-Match`` (428
  without, 412 when someone else changed the object meanwhile);
* ``POST /<name>``;
* permission checks per object type (:meth:`meterhub.access.AccessContext.require`) and the
  data segments (:meth:`meterhub.access.Scope.restrict`) on every query, in one place;
* one transaction per request with the acting user in the audit log.
"""

from meterhub.webapi.crud.listing import ListArguments, PageSchema
from meterhub.webapi.crud.refs import reference, serialize_writes
from meterhub.webapi.crud.resource import Resource, load_object, register_resource

__all__ = [
    "ListArguments",
    "PageSchema",
    "Resource",
    "load_object",
    "reference",
    "register_resource",
    "serialize_writes",
]
