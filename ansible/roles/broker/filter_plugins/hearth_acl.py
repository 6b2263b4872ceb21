"""Ansible filter: ``broker_satellites | hearth_acl(root)`` gives the broker's ACL file.

It is the very renderer the tests, the demo and ``hearth-broker`` use (``common/broker.py`` in
this checkout, which the controller runs the playbook from), so the ACL Ansible installs cannot
drift from the one the tests walk. Reserved names (``hub``, ``homeassistant``, ``monitor``,
``all``) and ids that are not valid topic levels are refused with the renderer's message.
"""

import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[4]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from common.broker import house_devices, render_acl  # noqa: E402
from protocol.topics import Topics  # noqa: E402


def hearth_acl(satellites, root="voice", hubs=()):
    try:
        return render_acl(house_devices(list(satellites), list(hubs)), Topics(str(root)))
    except ValueError as err:  # TopicError, ReservedNameError
        try:
            from ansible.errors import AnsibleFilterError
        except ImportError:  # rendered outside Ansible (tests/test_security_acl.py)
            raise err from None
        raise AnsibleFilterError(str(err)) from err


class FilterModule:
    def filters(self):
        return {"hearth_acl": hearth_acl}
