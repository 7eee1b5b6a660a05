#!/usr/bin/env bash
# Builds govmomi's vcsim (ESX model) from Debian's packages into OUT
# (default: <repo>/target/vcsim/vcsim). Installs golang-go and
# golang-github-vmware-govmomi-dev when missing (root only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/vcsim/vcsim}"

missing=()
for p in golang-go golang-github-vmware-govmomi-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "vcsim: missing packages ${missing[*]} (need root to install)" >&2
        exit 1
    fi
    if [ ! -f /tmp/.virsnap-apt-updated ]; then
        apt-get update -qq && touch /tmp/.virsnap-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rebuild only when the sources or the Debian package versions changed.
stamp="$out.stamp"
want="$(cat "$here/main.go"; dpkg-query -W -f='${Version}\n' golang-go golang-github-vmware-govmomi-dev)"
if [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "vcsim: up to date ($out)"
    exit 0
fi

mkdir -p "$(dirname "$out")"
export GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS=
export GOCACHE="${GOCACHE:-$repo/target/vcsim/gocache}"
t0=$SECONDS
(cd "$here" && go build -o "$out" main.go)
printf '%s' "$want" > "$stamp"
echo "vcsim: built $out in $((SECONDS - t0)) s"
