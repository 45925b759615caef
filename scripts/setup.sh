#!/usr/bin/env bash
# Set up rnnlab on a fresh machine: a virtual environment in .venv with PyTorch and the package.
# Safe to run again: it only installs what is missing.
#   --tests   also what the test suite needs beyond Python packages: Debian's Chromium for the
#             report's browser test (as root with apt; without it that test is skipped, saying why)
set -euo pipefail
cd "$(dirname "$0")/.."
FOR_TESTS=0
for arg in "$@"; do
    case "$arg" in
        --tests) FOR_TESTS=1 ;;
        *) echo "setup: expected no option or --tests, found '$arg'" >&2; exit 2 ;;
    esac
done

# The first Python 3.11 or newer among $PYTHON, python3.11, python3.12, python3.13, python3, python.
is_recent() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; }
if [ -n "${PYTHON:-}" ]; then
    if ! is_recent "$PYTHON"; then
        echo "setup: expected Python 3.11 or newer as PYTHON='$PYTHON', found none or an older one" >&2
        exit 1
    fi
else
    for candidate in python3.11 python3.12 python3.13 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 && is_recent "$candidate"; then
            PYTHON=$candidate
            break
        fi
    done
    if [ -z "${PYTHON:-}" ]; then
        echo "setup: expected Python 3.11 or newer on PATH (python3.11 ... python3), found none; set PYTHON=/path/to/python3" >&2
        exit 1
    fi
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
$PIP install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
# PyTorch first, pinned (the only pin that installs offline on our machines, see shared/DATA.md).
$PIP install --quiet --disable-pip-version-check torch==2.14.1 torchvision==0.29.1 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
$PIP install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import rnnlab, torch, numpy" || { echo "setup: the installation failed" >&2; exit 1; }

# Optional real English text for the character-level model (Debian's fortunes). Best effort:
# without it rnnlab falls back to the English text that ships with Python and says so.
if [ ! -d /usr/share/games/fortunes ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -qq fortunes-min fortunes >/dev/null 2>&1 \
        || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fortunes >/dev/null 2>&1)) || true
fi
# The report's browser test drives Debian's Chromium headless (Playwright never downloads one).
if [ "$FOR_TESTS" = 1 ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
        && [ "$(id -u)" = 0 ]; then
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
        || (apt-get update -qq >/dev/null 2>&1 \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) \
        || echo "setup: could not install chromium; the browser test will be skipped" >&2
fi
echo "setup: ready (.venv)"
