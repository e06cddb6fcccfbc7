#!/usr/bin/env bash
# The Python package as users get it: `pip wheel .` at the repository root with Debian's
# /usr/bin/python3, the wheel installed into a fresh venv (--system-site-packages: Debian's numpy,
# pytest, Ray), and the pytest suites (python/tests) run against that install, not the build tree.
# Needs the CLI and converted test models of a test build: scripts/test.sh [BUILD_DIR] first.
# Usage: scripts/test_wheel.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="$(realpath "${1:-build}")"
WORK="$BUILD/wheel-test"
rm -rf "$WORK"; mkdir -p "$WORK"
/usr/bin/python3 -m pip wheel . --no-deps --disable-pip-version-check -q -w "$WORK/dist"
/usr/bin/python3 -m venv --system-site-packages "$WORK/venv"
"$WORK/venv/bin/pip" install -q --no-deps --disable-pip-version-check "$WORK"/dist/errseg-*.whl
(cd / && "$WORK/venv/bin/python" -c "import errseg, sys; sys.exit(not errseg.__file__.startswith('$WORK/venv'))") ||
  { echo "errseg was not imported from the installed wheel" >&2; exit 1; }
cd python/tests  # outside the source package: `import errseg` must find the installed one
ERRSEG_CLI="$BUILD/errseg" ERRSEG_TEST_MODELS="$BUILD/test_models" PYTHONDONTWRITEBYTECODE=1 \
  "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider \
  . 2>&1 | tee "$WORK/pytest.log"
