#!/usr/bin/env bash
# Python suite (issue 4): build the `virsnap` wheel with maturin, install it
# into a venv under target/, run pytest on the installed wheel (tests in
# bindings/python/tests, including the parity run against Debian's
# python3-libvirt when present) and mypy.stubtest on the stubs.
# Exits non-zero if the build, pytest or stubtest fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source .ci/lib.sh

# Base interpreter for the venv (VIRSNAP_PYTHON is the *venv* interpreter for core's ESX test).
PY=${VIRSNAP_VENV_BASE_PYTHON:-python3}
VENV=$ROOT/target/venv-python
export CARGO_TARGET_DIR=$ROOT/target/py
WHEELS=$CARGO_TARGET_DIR/wheels

# Debian's python3 needs python3-venv for `-m venv` (ensurepip).
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need_apt python3-venv
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9.4,<2" pytest mypy jsonschema

echo "== python: building the wheel"
rm -rf "$WHEELS"
"$VENV/bin/maturin" build --release --locked \
    --manifest-path bindings/python/Cargo.toml \
    --interpreter "$VENV/bin/python" --out "$WHEELS"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/virsnap-*.whl

status=0
# Run from outside the source tree so `import virsnap` is the installed wheel.
cd "$ROOT/target"
echo "== python: pytest"
"$VENV/bin/python" -m pytest -p no:cacheprovider -q -rs "$ROOT/bindings/python/tests" || status=1
echo "== python: mypy.stubtest"
"$VENV/bin/python" -m mypy.stubtest virsnap \
    --allowlist "$ROOT/bindings/python/stubtest-allowlist.txt" || status=1
echo "== python: mypy on a typed caller"
"$VENV/bin/python" -m mypy --strict --no-incremental --cache-dir=/dev/null \
    "$ROOT/bindings/python/tests/typed_caller.py" || status=1
exit "$status"
