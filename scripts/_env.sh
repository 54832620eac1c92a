# Sourced by the scripts: create or reuse .venv in the checkout and install what it needs.
# Re-installs only when pyproject.toml changed since the last install (a stamp file says).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "landscape needs Python >= 3.11; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
    echo "Set PYTHON=/path/to/python3.11 and try again." >&2
    exit 1
}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
EXTRAS="${1:-}"
STAMP=".venv/.installed${EXTRAS:+-$EXTRAS}"
WANT="$(sha1sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    echo "Installing landscape${EXTRAS:+[$EXTRAS]} into .venv (first time: a few minutes)..."
    if ! { .venv/bin/python -m pip install --upgrade pip \
           && .venv/bin/python -m pip install -e ".${EXTRAS:+[$EXTRAS]}"; } > .venv/install.log 2>&1
    then
        tail -n 30 .venv/install.log >&2
        echo "Installation failed; the whole log is in .venv/install.log" >&2
        exit 1
    fi
    echo "$WANT" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
