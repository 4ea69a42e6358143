"""``/api/v1/vee-runs``: runs of validation profiles (start one at
``POST /api/v1/validation-profiles/{id}/runs``)."""

from __future__ import annotations

from meterhub.model.vee import ValidationRun
from meterhub.webapi.crud import Resource, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.veeruns.schemas import VeeRunSchema

blp = Blueprint("vee_runs", __name__, url_prefix="/api/v1/vee-runs", description="VEE runs")

RESOURCE = Resource(
    name="vee-runs",
    object_type="vee_run",
    model=ValidationRun,
    schema=VeeRunSchema,
    title="VEE runs",
    search=(ValidationRun.user_name,),
    default_sort="-id",
)
register_resource(blp, RESOURCE)
