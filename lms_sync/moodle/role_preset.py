"""The Moodle role preset an admin imports for the sync account (``deploy/moodle/lms_sync-role.xml``).

Generated from the capability list of ``functions.py``, in the format Moodle validates presets
against (``admin/roles/role_schema.xml``: the elements in this order, inside ``permissions`` only
``allow`` entries). ``python -m lms_sync.moodle.role_preset > deploy/moodle/lms_sync-role.xml``
rewrites the shipped file; a test keeps the two equal.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

from .functions import ALL_FEATURES, capabilities_for

ROLE_SHORTNAME = "lms_sync"
ROLE_NAME = "lms_sync (synchronisation)"
ROLE_DESCRIPTION = (
    "Role of the account whose web-service token lms_sync uses: it creates and updates the programme's "
    "category, course and calendar events, the participants' accounts and manual enrolments, and reads "
    "completion. Assign it at system level to that account only."
)
# The role that enrolments give (push.role_id, 5 = student in a default Moodle) must be assignable.
ASSIGNABLE_ROLES = ("student",)


def role_preset_xml() -> str:
    """The preset as Moodle's own role export writes it: UTF-8 XML, one capability per line."""
    role = ET.Element("role")
    ET.SubElement(role, "shortname").text = ROLE_SHORTNAME
    ET.SubElement(role, "name").text = ROLE_NAME
    ET.SubElement(role, "description").text = ROLE_DESCRIPTION
    ET.SubElement(role, "archetype").text = ""
    levels = ET.SubElement(role, "contextlevels")
    ET.SubElement(levels, "level").text = "system"
    assign = ET.SubElement(role, "allowassign")
    for shortname in ASSIGNABLE_ROLES:
        ET.SubElement(assign, "shortname").text = shortname
    for kind in ("allowoverride", "allowswitch", "allowview"):
        ET.SubElement(role, kind)
    permissions = ET.SubElement(role, "permissions")
    for capability in capabilities_for(ALL_FEATURES):
        ET.SubElement(permissions, "allow").text = capability
    ET.indent(role, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(role, encoding="unicode") + "\n"


if __name__ == "__main__":
    sys.stdout.write(role_preset_xml())
