"""The only code that talks to a directory: live LDAP (`ldap.py`) or a snapshot
(`snapshot.py`), both behind the read interface in `base.py`."""
