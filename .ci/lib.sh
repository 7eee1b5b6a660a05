# Shared helpers for .ci scripts (sourced).

# need_apt PKG...: installs the Debian packages that are missing (root only).
need_apt() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages (need root to install): ${missing[*]}" >&2
        return 1
    fi
    if [ ! -f /tmp/.virsnap-apt-updated ]; then
        apt-get update -qq && touch /tmp/.virsnap-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
