from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from meterhub.errors import FeatureNotLicensed, LicenseError, LicenseLimitExceeded
from meterhub.licensing import License, development_license


def make_license(**changes: object) -> License:
    fields: dict[str, object] = {
        "customer": "Acme Energy",
        "license_id": "L-2026-001",
        "issued": date(2026, 1, 15),
        "expires": date(2027, 1, 31),
        "limits": {"virtual_meters": 100},
        "features": frozenset({"driver:*", "export:csv", "tariffs"}),
        "development": False,
        "source": Path("/etc/meterhub/license.json"),
    }
    fields.update(changes)
    return License(**fields)  # type: ignore[arg-type]


def test_allows_exact_names_and_globs() -> None:
    license_ = make_license()
    assert license_.allows("tariffs")
    assert license_.allows("export:csv")
    assert license_.allows("driver:dlms")
    assert license_.allows("driver:modbus")
    assert not license_.allows("export:xlsx")
    assert not license_.allows("advanced-validation")
    # A glob matches the pattern only, case-sensitively.
    assert not license_.allows("drivers:dlms")
    assert not license_.allows("Driver:dlms")
    assert not license_.allows("tariffs-extra")


def test_star_allows_everything() -> None:
    license_ = make_license(features=frozenset({"*"}))
    for feature in ("driver:dlms", "cim-61968-9", "active-directory", "export:csv"):
        assert license_.allows(feature)


def test_no_features_allows_nothing() -> None:
    assert not make_license(features=frozenset()).allows("tariffs")


def test_require_names_feature_and_license() -> None:
    license_ = make_license()
    license_.require("driver:dlms")
    with pytest.raises(FeatureNotLicensed) as caught:
        license_.require("smart-functions")
    message = str(caught.value)
    assert "'smart-functions'" in message
    assert "L-2026-001" in message and "Acme Energy" in message
    assert isinstance(caught.value, LicenseError)


def test_limit_and_check_limit() -> None:
    license_ = make_license()
    assert license_.limit("virtual_meters") == 100
    assert license_.limit("named_users") is None  # missing means unlimited
    license_.check_limit("virtual_meters", 100)
    license_.check_limit("named_users", 10**9)
    with pytest.raises(LicenseLimitExceeded) as caught:
        license_.check_limit("virtual_meters", 101)
    assert str(caught.value) == (
        "license L-2026-001 for Acme Energy allows at most 100 virtual meters; this would make 101"
    )


def test_zero_limit_allows_none() -> None:
    license_ = make_license(limits={"named_users": 0})
    license_.check_limit("named_users", 0)
    with pytest.raises(LicenseLimitExceeded, match="at most 0 named users; this would make 1"):
        license_.check_limit("named_users", 1)


def test_unknown_limit_name_is_a_programming_error() -> None:
    license_ = make_license()
    with pytest.raises(ValueError, match="unknown license limit 'meters'"):
        license_.check_limit("meters", 1)
    with pytest.raises(ValueError, match="unknown license limit"):
        license_.limit("virtual-meters")


def test_license_is_immutable() -> None:
    limits = {"virtual_meters": 100}
    license_ = make_license(limits=limits)
    limits["virtual_meters"] = 10**6  # the caller's dict is copied
    assert license_.limit("virtual_meters") == 100
    with pytest.raises(TypeError):
        license_.limits["virtual_meters"] = 5  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        license_.customer = "Someone else"  # type: ignore[misc]
    assert hash(license_) == hash(make_license())


def test_days_left_and_expiry() -> None:
    license_ = make_license(expires=date(2026, 1, 31))
    assert license_.days_left(date(2026, 1, 30)) == 1
    assert license_.days_left(date(2026, 1, 31)) == 0
    assert not license_.is_expired(date(2026, 1, 31))
    assert license_.is_expired(date(2026, 2, 1))
    assert make_license(expires=None).days_left() is None
    assert not make_license(expires=None).is_expired()


def test_summary_rows() -> None:
    rows = dict(make_license().summary(today=date(2027, 1, 1)))
    assert rows["Customer"] == "Acme Energy"
    assert rows["License ID"] == "L-2026-001"
    assert rows["Issued"] == "2026-01-15"
    assert rows["Expires"] == "2027-01-31"
    assert rows["Days left"] == "30"
    assert rows["Virtual meters"] == "100"
    assert rows["Named users"] == "unlimited"
    assert rows["Features"] == "driver:*, export:csv, tariffs"
    assert rows["File"] == str(Path("/etc/meterhub/license.json"))
    assert "Note" not in rows


def test_summary_of_perpetual_and_expired_licenses() -> None:
    perpetual = dict(make_license(expires=None).summary())
    assert perpetual["Expires"] == "never"
    assert perpetual["Days left"] == "unlimited"
    expired = dict(make_license().summary(today=date(2027, 2, 1)))
    assert expired["Days left"] == "none (expired on 2027-01-31)"


def test_development_license() -> None:
    license_ = development_license()
    assert license_.development
    assert license_.customer == "Development (no license file)"
    assert license_.expires is None
    assert license_.source is None
    assert dict(license_.limits) == {"virtual_meters": 50, "named_users": 5}
    assert license_.limit("virtual_meters") == 50
    license_.check_limit("virtual_meters", 50)
    license_.check_limit("named_users", 5)
    with pytest.raises(LicenseLimitExceeded) as caught:
        license_.check_limit("virtual_meters", 51)
    assert str(caught.value) == (
        "license development for Development (no license file) allows at most 50 virtual "
        "meters; this would make 51"
    )
    with pytest.raises(LicenseLimitExceeded, match="at most 5 named users; this would make 6"):
        license_.check_limit("named_users", 6)
    for feature in ("driver:dlms", "backup-line", "calculation", "cim-61968-9", "whatever"):
        assert license_.allows(feature)
        license_.require(feature)
    rows = dict(license_.summary())
    assert rows["Note"] == (
        "Development license (no license file): every feature enabled, at most 50 virtual "
        "meters and 5 named users; not for production"
    )
    assert (rows["Virtual meters"], rows["Named users"]) == ("50", "5")
    assert license_.development_note() == rows["Note"]
    assert make_license().development_note() == ""
    assert make_license().limits_text() == "at most 100 virtual meters"
    assert rows["Features"] == "all (*)"


def test_as_dict() -> None:
    data = make_license().as_dict(today=date(2027, 1, 30))
    assert data == {
        "customer": "Acme Energy",
        "license_id": "L-2026-001",
        "issued": "2026-01-15",
        "expires": "2027-01-31",
        "days_left": 1,
        "limits": {"virtual_meters": 100, "named_users": None},
        "features": ["driver:*", "export:csv", "tariffs"],
        "development": False,
        "source": str(Path("/etc/meterhub/license.json")),
    }
