#!/usr/bin/env bash
# Build the workspace base image from Debian with debootstrap, then `docker import` it:
# no container registry is needed (or reachable) anywhere in the build.
#
#   base.sh TAG [SUITE] [MIRROR]
#
# The root filesystem holds Debian's minimal base plus Python 3 and its venv module;
# everything else (JupyterLab, pandas, statbarn...) is installed by the Dockerfile on top.
# Needs root (debootstrap) and a Docker engine.  DOCKER selects the client binary.
set -euo pipefail

TAG="${1:?usage: base.sh TAG [SUITE] [MIRROR]}"
SUITE="${2:-bookworm}"
MIRROR="${3:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-docker}"
# python3-venv: the workspace's own virtualenv; ca-certificates: Debian's public roots
# (the host's own CA, if any, is never copied in; builds get it as a BuildKit secret).
PACKAGES="python3,python3-venv,ca-certificates"

if [ "$(id -u)" -ne 0 ]; then
    echo "error: building the base image needs root (debootstrap); run as root" >&2
    exit 1
fi
command -v debootstrap >/dev/null || {
    echo "error: debootstrap is not installed (Debian: apt-get install debootstrap)" >&2
    exit 1
}

work="$(mktemp -d /var/tmp/tre-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" \
    >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    echo "error: debootstrap $SUITE from $MIRROR failed (log above)" >&2
    exit 1
}

# Nothing the running system needs: package caches and lists, logs, machine identity
# (Docker provides hostname and resolv.conf at run time).
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
       "$root"/var/log/* "$root"/tmp/* "$root"/etc/machine-id
: > "$root/etc/hostname"
: > "$root/etc/resolv.conf"

tar --numeric-owner --xattrs -C "$root" -c . \
    | "$DOCKER" import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --message "tre workspace base: debootstrap --variant=minbase $SUITE ($PACKAGES)" \
        - "$TAG" >/dev/null
echo "built $TAG"
