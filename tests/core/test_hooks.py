"""One test per hook: a plugin implementing it is called and its contribution works."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pytest
from flask import Blueprint, Flask, jsonify

from meterhub import hookimpl
from meterhub.config import Settings
from meterhub.extensions import (
    ApiExtension,
    Calculation,
    CimAdapter,
    CimMessage,
    Estimator,
    ExportMetadata,
    Finding,
    FinishedJob,
    FinishedTask,
    ImportFormat,
    ImportRecord,
    IntervalBlock,
    Medium,
    MeterAlarm,
    ReportData,
    ReportRenderer,
    Validator,
)
from meterhub.extensions.report import Column
from meterhub.extensions.veecontext import EMPTY_CONTEXT, VeeContext, VeeParameters
from meterhub.licensing import development_license
from meterhub.pluginhost import PluginHost, build_plugin_host
from meterhub.plugins.drivers.simulated import SimulatedDriver

T0 = datetime(2026, 3, 2, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def block(values: list[float], channel_id: int | None = 1) -> IntervalBlock:
    array = np.array(values, dtype=np.float64)
    return IntervalBlock(T0, QUARTER, array, np.zeros(len(array), np.uint32), channel_id, "Wh")


@pytest.fixture
def host_with(make_settings: Callable[..., Settings]) -> Callable[..., PluginHost]:
    """Build a host with only the given plugins (no entry points)."""

    def build(*plugins: object, autoload: bool = False) -> PluginHost:
        settings = make_settings(plugins_disable_autoload=not autoload)
        return build_plugin_host(development_license(), settings, extra_plugins=plugins)

    return build


# -- contributions -----------------------------------------------------------------------------


def test_hook_register_drivers(host_with: Callable[..., PluginHost]) -> None:
    host = host_with(autoload=True)
    drivers = host.drivers()
    assert drivers["simulated"] is SimulatedDriver
    assert drivers["simulated"].info().name == "simulated"


class LoopbackMedium(Medium):
    name = "loopback"
    description = "Echoes what is written"

    def open(self, timeout: float) -> None:
        self.buffer = bytearray()

    def read(self, size: int, timeout: float) -> bytes:
        data, self.buffer[:] = bytes(self.buffer[:size]), self.buffer[size:]
        return data

    def write(self, data: bytes) -> None:
        self.buffer.extend(data)

    def close(self) -> None:
        self.buffer = bytearray()


class MediaPlugin:
    @hookimpl
    def register_media(self) -> list[type[Medium]]:
        return [LoopbackMedium]


def test_hook_register_media(host_with: Callable[..., PluginHost]) -> None:
    medium_class = host_with(MediaPlugin).media()["loopback"]
    with medium_class("here", {"speed": "fast"}) as medium:
        medium.open(timeout=1.0)
        medium.write(b"/?!\r\n")
        assert medium.read(3, timeout=1.0) == b"/?!"
        assert medium.settings == {"speed": "fast"}


class NegativeParameters(VeeParameters):
    limit: float = 0.0


class NegativeCheck(Validator):
    name = "negative"
    description = "Consumption below zero"
    parameters = NegativeParameters

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> list[Finding]:
        limit = parameters.limit
        positions = np.flatnonzero(block.values < limit)
        return [Finding(int(i), self.name, f"below {limit}") for i in positions]


class ValidatorPlugin:
    @hookimpl
    def register_validators(self) -> list[type[Validator]]:
        return [NegativeCheck]


def test_hook_register_validators(host_with: Callable[..., PluginHost]) -> None:
    check_class = host_with(ValidatorPlugin).validators()["negative"]
    findings = check_class().validate(
        block([1.0, -2.0, 3.0, -0.5]), check_class.parse_parameters({"limit": 0.0})
    )
    assert isinstance(findings, list)
    assert [finding.position for finding in findings] == [1, 3]


class LinearEstimator(Estimator):
    name = "linear"

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        values = block.values.copy()
        known = ~missing
        positions = np.arange(len(values))
        values[missing] = np.interp(positions[missing], positions[known], values[known])
        return values


class EstimatorPlugin:
    @hookimpl
    def register_estimators(self) -> list[type[Estimator]]:
        return [LinearEstimator]


def test_hook_register_estimators(host_with: Callable[..., PluginHost]) -> None:
    estimator = host_with(EstimatorPlugin).estimators()["linear"]()
    data = block([1.0, np.nan, np.nan, 4.0])
    result = estimator.estimate(data, np.isnan(data.values), None)
    assert result.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.isnan(data.values[1]), "the input block is unchanged"


class SumCalculation(Calculation):
    name = "sum"

    def calculate(
        self, inputs: Mapping[str, IntervalBlock], parameters: Mapping[str, Any]
    ) -> IntervalBlock:
        first = next(iter(inputs.values()))
        total = np.sum([item.values for item in inputs.values()], axis=0)
        flags = np.zeros(len(total), np.uint32)
        return IntervalBlock(first.start, first.interval, total, flags, None, first.unit)


class CalculationPlugin:
    @hookimpl
    def register_calculations(self) -> list[type[Calculation]]:
        return [SumCalculation]


def test_hook_register_calculations(host_with: Callable[..., PluginHost]) -> None:
    calculation = host_with(CalculationPlugin).calculations()["sum"]()
    result = calculation.calculate({"a": block([1, 2]), "b": block([10, 20])}, {})
    assert result.values.tolist() == [11.0, 22.0]
    assert result.channel_id is None
    assert result.end == T0 + 2 * QUARTER


def test_hook_register_exports(host_with: Callable[..., PluginHost]) -> None:
    host = host_with(autoload=True)
    destination_class = host.exports()["memory"]
    metadata = ExportMetadata("a.csv", "text/csv", "daily", T0)
    assert destination_class("demo").deliver(b"x;y\n", metadata) == "memory:demo/1"
    assert [d.payload for d in destination_class.mailbox("demo")] == [b"x;y\n"]


class SemicolonFormat(ImportFormat):
    name = "semicolon"
    media_types = ("text/csv",)

    def parse(
        self, stream: BinaryIO, options: Mapping[str, str] | None = None
    ) -> Iterator[ImportRecord]:
        for line in io.TextIOWrapper(stream, encoding="utf-8"):
            ident, obis, stamp, value = line.strip().split(";")
            yield ImportRecord(ident, obis, datetime.fromisoformat(stamp), float(value), "kWh")


class ImportPlugin:
    @hookimpl
    def register_imports(self) -> list[type[ImportFormat]]:
        return [SemicolonFormat]


def test_hook_register_imports(host_with: Callable[..., PluginHost]) -> None:
    parser = host_with(ImportPlugin).imports()["semicolon"]()
    data = b"SIM-1;1-0:1.8.0*255;2026-03-02T00:15:00+00:00;12.5\n"
    (record,) = list(parser.parse(io.BytesIO(data)))
    assert (record.identifier, record.value, record.timestamp) == ("SIM-1", 12.5, T0 + QUARTER)


class CsvRenderer(ReportRenderer):
    name = "csv"
    media_type = "text/csv"
    file_extension = "csv"

    def render(self, report: ReportData, stream: BinaryIO) -> None:
        lines = [";".join(column.title for column in report.columns)]
        lines += [";".join(str(value) for value in row) for row in report.rows]
        stream.write(("\n".join(lines) + "\n").encode("utf-8"))


class ReportPlugin:
    @hookimpl
    def register_reports(self) -> list[type[ReportRenderer]]:
        return [CsvRenderer]


def test_hook_register_reports(host_with: Callable[..., PluginHost]) -> None:
    renderer = host_with(ReportPlugin).reports()["csv"]()
    report = ReportData("Daily", (Column("meter", "Meter"), Column("kwh", "Energy", "kWh")),
                        [("SIM-1", 12.5)], T0)  # fmt: skip
    stream = io.BytesIO()
    renderer.render(report, stream)
    assert stream.getvalue() == b"Meter;Energy\nSIM-1;12.5\n"


class ReadingsAdapter(CimAdapter):
    noun = "MeterReadings"
    verbs = frozenset({"get"})

    def handle(self, message: CimMessage) -> CimMessage:
        return CimMessage("reply", self.noun, b"<MeterReadings/>", message.correlation_id)


class CimPlugin:
    @hookimpl
    def register_cim_adapters(self) -> list[type[CimAdapter]]:
        return [ReadingsAdapter]


def test_hook_register_cim_adapters(host_with: Callable[..., PluginHost]) -> None:
    adapters = host_with(CimPlugin).cim_adapters()
    assert list(adapters) == ["MeterReadings"], "CIM adapters are keyed by noun"
    reply = adapters["MeterReadings"]().handle(CimMessage("get", "MeterReadings", b"", "c-1"))
    assert (reply.verb, reply.correlation_id) == ("reply", "c-1")


class HelloApi(ApiExtension):
    name = "hello_api"

    def blueprint(self) -> Blueprint:
        blueprint = Blueprint(self.name, __name__)

        @blueprint.get("/greeting")
        def greeting() -> Any:
            return jsonify(greeting="hello")

        return blueprint


class ApiPlugin:
    @hookimpl
    def register_api_blueprints(self) -> list[type[ApiExtension]]:
        return [HelloApi]


def test_hook_register_api_blueprints(host_with: Callable[..., PluginHost]) -> None:
    app = Flask(__name__)
    for extension_class in host_with(ApiPlugin).api_extensions().values():
        app.register_blueprint(
            extension_class().blueprint(), url_prefix=extension_class.mount_point()
        )
    response = app.test_client().get("/api/plugins/hello_api/greeting")
    assert response.get_json() == {"greeting": "hello"}


# -- events ------------------------------------------------------------------------------------


class Listener:
    """Records every event it receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def readings_stored(
        self, channel_ids: tuple[int, ...], start: datetime, end: datetime, kind: str
    ) -> None:
        self.calls.append(("readings_stored", locals_without_self(locals())))

    @hookimpl
    def values_edited(
        self, channel_id: int, start: datetime, end: datetime, user: str, reason: str
    ) -> None:
        self.calls.append(("values_edited", locals_without_self(locals())))

    @hookimpl
    def task_finished(self, task: FinishedTask) -> None:
        self.calls.append(("task_finished", {"task": task}))

    @hookimpl
    def job_finished(self, job: FinishedJob) -> None:
        self.calls.append(("job_finished", {"job": job}))

    @hookimpl
    def alarms_stored(self, meter_id: int, alarms: tuple[MeterAlarm, ...]) -> None:
        self.calls.append(("alarms_stored", {"meter_id": meter_id, "alarms": alarms}))


def locals_without_self(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key != "self"}


class BrokenListener:
    """Raises on every event; the other listeners must still be called."""

    @hookimpl
    def readings_stored(self) -> None:
        raise RuntimeError("listener bug")

    @hookimpl
    def job_finished(self) -> None:
        raise RuntimeError("listener bug")


def _notified(host_with: Callable[..., PluginHost], event: str, **kwargs: Any) -> list[Any]:
    listener = Listener()
    host = host_with(listener, BrokenListener)
    host.notify(event, **kwargs)
    return listener.calls


def test_hook_readings_stored(
    host_with: Callable[..., PluginHost], caplog: pytest.LogCaptureFixture
) -> None:
    args = {"channel_ids": (1, 2), "start": T0, "end": T0 + QUARTER, "kind": "raw"}
    with caplog.at_level(logging.ERROR, logger="meterhub.pluginhost"):
        calls = _notified(host_with, "readings_stored", **args)
    assert calls == [("readings_stored", args)]
    assert "plugin extra:BrokenListener raised" in caplog.text
    assert "listener bug" in caplog.text


def test_hook_values_edited(host_with: Callable[..., PluginHost]) -> None:
    args = {"channel_id": 7, "start": T0, "end": T0 + QUARTER, "user": "ana", "reason": "typo"}
    assert _notified(host_with, "values_edited", **args) == [("values_edited", args)]


def test_hook_task_finished(host_with: Callable[..., PluginHost]) -> None:
    task = FinishedTask(1, 2, 3, "read_load_profile", "succeeded", 1, T0, T0 + QUARTER, "main")
    assert _notified(host_with, "task_finished", task=task) == [("task_finished", {"task": task})]


def test_hook_job_finished(host_with: Callable[..., PluginHost]) -> None:
    job = FinishedJob(2, "daily", "partial", T0, T0 + QUARTER, 10, 9, 1)
    assert _notified(host_with, "job_finished", job=job) == [("job_finished", {"job": job})]


def test_hook_alarms_stored(host_with: Callable[..., PluginHost]) -> None:
    alarm = MeterAlarm(7, "DLMS-0001", 1, "0-0:99.98.0*255", "Power down", T0, T0, 12)
    args = {"meter_id": 7, "alarms": (alarm,)}
    assert _notified(host_with, "alarms_stored", **args) == [("alarms_stored", args)]
