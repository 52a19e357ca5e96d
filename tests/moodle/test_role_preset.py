"""The shipped role preset is what the code generates, in the order Moodle's role_schema.xml demands."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.conftest import REPO

from lms_sync.moodle.functions import ALL_FEATURES, capabilities_for
from lms_sync.moodle.role_preset import role_preset_xml

SHIPPED = REPO / "deploy" / "moodle" / "lms_sync-role.xml"
# admin/roles/role_schema.xml: an xs:sequence, so the order is part of the format.
ORDER = ["shortname", "name", "description", "archetype", "contextlevels", "allowassign", "allowoverride",
         "allowswitch", "allowview", "permissions"]


def test_shipped_file_equals_the_generated_one() -> None:
    """Regenerate with `python -m lms_sync.moodle.role_preset > deploy/moodle/lms_sync-role.xml`."""
    assert SHIPPED.read_text(encoding="utf-8") == role_preset_xml()


def test_preset_holds_exactly_the_declared_capabilities_at_system_level() -> None:
    """Every capability lms_sync's functions need, allowed, once; a system role that may assign Student."""
    role = ET.fromstring(role_preset_xml())
    assert [child.tag for child in role] == ORDER
    permissions = role.find("permissions")
    assert permissions is not None
    assert {p.tag for p in permissions} == {"allow"}
    assert [p.text for p in permissions] == capabilities_for(ALL_FEATURES)
    assert [level.text for level in role.iter("level")] == ["system"]
    assign = role.find("allowassign")
    assert assign is not None and [s.text for s in assign] == ["student"]
    for must in ("moodle/course:changesummary", "moodle/course:changefullname", "moodle/course:changeidnumber",
                 "moodle/reportbuilder:view", "webservice/rest:use"):
        assert must in capabilities_for(ALL_FEATURES)
