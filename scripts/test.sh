#!/usr/bin/env bash
# Install everything the whole test suite needs on a fresh Debian machine (Samba AD DC
# included) and run it: lint, type check, unit, real-DC integration and notebook tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v samba >/dev/null || ! command -v samba-tool >/dev/null; then
  echo "== installing Samba AD DC (apt)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind ldb-tools >/dev/null
fi
if ! command -v chromium >/dev/null; then
  echo "== installing Chromium for the browser test (apt)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# Kerberos tests: kinit/klist (krb5-user), and what pip needs to build python-gssapi, which
# has no wheel for this platform (krb5-config and headers from libkrb5-dev, a C compiler).
if ! command -v kinit >/dev/null || ! command -v krb5-config >/dev/null || ! command -v gcc >/dev/null; then
  echo "== installing MIT Kerberos client and build headers (apt)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    krb5-user libkrb5-dev gcc python3-dev >/dev/null
fi

echo "== installing richcoex-kit[test] into .venv" >&2
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff" >&2
ruff check richcoex_kit tests benchmarks
ruff format --check richcoex_kit tests benchmarks
echo "== mypy (the whole package)" >&2
mypy
echo "== pytest" >&2
status=0
pytest --nbval-lax tests runbooks "$@" || status=$?

# The suite's DCs must be gone: no process, no port left behind.
if pgrep -f 'samba -F --no-process-group' >/dev/null || (echo >/dev/tcp/127.0.0.1/636) 2>/dev/null; then
  echo "FAIL: a Samba lab DC or port 636 is still alive after the tests" >&2
  status=1
fi
exit "$status"
