"""The security-descriptor engine: pure, stdlib-only, no I/O.

Public names an external acceptance suite relies on: `SecurityDescriptor`, `Sid`,
`DescriptorError`, and in `richcoex_kit.security.access`: `AttributeRef`,
`evaluate_write`, `evaluate_all`, `Decision`.
"""

from .access import AttributeRef, Decision, evaluate_all, evaluate_write
from .descriptor import Ace, Acl, Control, SecurityDescriptor
from .errors import DescriptorError
from .guid import guid_from_bytes, guid_to_bytes
from .rights import AceFlag, AceType, Right, map_generic, rights_in_words
from .sid import Sid

__all__ = [
    "Ace",
    "AceFlag",
    "AceType",
    "Acl",
    "AttributeRef",
    "Control",
    "Decision",
    "DescriptorError",
    "Right",
    "SecurityDescriptor",
    "Sid",
    "evaluate_all",
    "evaluate_write",
    "guid_from_bytes",
    "guid_to_bytes",
    "map_generic",
    "rights_in_words",
]
