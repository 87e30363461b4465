# Sourced by scripts/demo and scripts/test: make sure .venv exists with edgeaudit installed.
# Usage: ensure_venv [EXTRAS]   (comma-separated, e.g. ensure_venv all,test; none: the core)
set -euo pipefail

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EDGEAUDIT_VENV:-$_root/.venv}"

_pick_python() {
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "edgeaudit needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_venv() {
    local extras="${1:-}" py stamp want
    py="$(_pick_python)"
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
            rm -rf "$VENV"
            echo "installing Debian's python3-venv (needed to create $VENV)..." >&2
            _as_root apt-get update -qq
            _as_root apt-get install -y -qq python3-venv >/dev/null
            "$py" -m venv "$VENV"
        fi
    fi
    # Reinstall only when the packaging files or the requested extras changed.
    want="$(cat "$_root/pyproject.toml" "$_root/setup.py" | sha256sum | cut -c1-16)-${extras}"
    stamp="$VENV/.edgeaudit-installed"
    if [ ! -f "$stamp" ] || ! grep -qx -- "$want" "$stamp"; then
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        local spec="$_root"
        [ -n "$extras" ] && spec="$_root[$extras]"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"
        echo "$want" >"$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

# The probe tests (tests/probe) build network namespaces with nftables; the probe benchmark
# also runs nmap. As root, install the Debian packages that are missing.
# Usage: ensure_probe_tools [bench]
ensure_probe_tools() {
    [ "$(id -u)" -eq 0 ] || return 0
    local missing=()
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v nft >/dev/null 2>&1 || missing+=(nftables)
    if [ "${1:-}" = bench ]; then
        command -v nmap >/dev/null 2>&1 || missing+=(nmap)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing Debian's ${missing[*]} (network-namespace probe tests)..." >&2
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Audit packs: WeasyPrint renders report.pdf with Pango, HarfBuzz and the DejaVu fonts; the pack
# tests render it back to images with poppler's pdftoppm. As root, install what is missing.
ensure_pack_tools() {
    [ "$(id -u)" -eq 0 ] || return 0
    local missing=() pkg
    for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing Debian's ${missing[*]} (PDF reports of audit packs)..." >&2
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The browser tests (tests/serve/test_browser.py) drive Debian's chromium through the Python
# playwright package (no browser download). As root, install chromium when it is missing.
ensure_browser() {
    [ "$(id -u)" -eq 0 ] || return 0
    if [ ! -x /usr/bin/chromium ]; then
        echo "installing Debian's chromium (browser tests of edgeaudit serve)..." >&2
        apt-get update -qq
        apt-get install -y -qq chromium >/dev/null
    fi
}
