"""Event kind names the built-in parsers share (listed with their OCSF class in
:data:`edgeaudit.collect.model.OCSF_CLASS`).

* ``auth.verified``: a successful authentication step that is not a logon and opens no session
  (an auditd ``USER_AUTH``: PAM verified a password or key for sshd, sudo, su, ...). The session
  checks (``policy/checks/_sessions.py``) read only ``auth.logon``, ``session.start`` and
  ``priv.switch``, so these records never start a session.
* ``vault.request``: a Vault API request that maps to no more specific kind, recorded because
  of who made it (a root token).
"""

from __future__ import annotations

from typing import Final

AUTH_VERIFIED: Final = "auth.verified"
VAULT_REQUEST: Final = "vault.request"
