#!/usr/bin/env bash
# Builds the container image netrsync:latest with podman, pulling no base image:
#   1. netrsyncd and netsersync published as native executables (dotnet publish -r linux-x64);
#   2. a root filesystem from Debian's packages (mmdebstrap: libc6, libssl3, bash and their
#      dependencies, laid out by deploy/container/layout.sh), kept as a tarball and reused while
#      its inputs are unchanged;
#   3. podman build FROM scratch with deploy/container/Containerfile (layers cached by podman).
#
#   scripts/image.sh [--tag NAME] [--refresh-rootfs]
# Environment: DEBIAN_SUITE (default: this machine's Debian release, which the executables were
# linked against), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

tag=netrsync:latest
refresh=0
while [ $# -gt 0 ]; do
  case $1 in
    --tag) tag=$2; shift 2 ;;
    --tag=*) tag=${1#--tag=}; shift ;;
    --refresh-rootfs) refresh=1; shift ;;
    *) echo "usage: scripts/image.sh [--tag NAME] [--refresh-rootfs]" >&2; exit 2 ;;
  esac
done

step() { printf '%s image.sh: %s\n' "$(date +%T)" "$*" >&2; }
bash scripts/ensure-podman.sh

out=$repo/artifacts/image
mkdir -p "$out"

# 1. The executables. Incremental: an unchanged tree republishes in seconds.
step "publishing netrsyncd and netsersync (native AOT, linux-x64)"
for project in src/Rsync.Daemon src/SerSync.Watch; do
  dotnet publish "$project" -c Release -r linux-x64 -nologo -v q -o "$out/publish/$(basename "$project")" >&2
done

# 2. The root filesystem, named by a digest of everything that goes into it.
suite=${DEBIAN_SUITE:-$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")}
suite=${suite:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=libc6,libssl3,bash
key=$( { printf '%s\n' "$suite" "$mirror" "$packages"; cat deploy/container/layout.sh; } | sha256sum | cut -c1-16)
rootfs=$out/rootfs-$suite-$key.tar
if [ $refresh -eq 1 ] || [ ! -s "$rootfs" ]; then
  step "building the root filesystem from Debian $suite ($packages)"
  work=$(mktemp -d "$out/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # extract: the packages' files only, no maintainer scripts (nothing runs inside); chrootless: no
  # mounts or namespaces needed. Security and point-release updates come with the release.
  mmdebstrap --quiet --variant=extract --mode=chrootless --include="$packages" --skip=output/dev \
    --format=directory "$suite" "$work/root" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" \
    "deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $suite-security main" >&2
  bash deploy/container/layout.sh "$work/root"
  tar --numeric-owner --sort=name -C "$work/root" -cf "$work/rootfs.tar" .
  rm -f "$out"/rootfs-"$suite"-*.tar
  mv "$work/rootfs.tar" "$rootfs"
  rm -rf "$work"
  trap - EXIT
else
  step "reusing $(basename "$rootfs")"
fi

# 3. The build context: only what the Containerfile copies, so podman's layer cache holds while
#    those files are unchanged.
context=$out/context
mkdir -p "$context"
install_if_changed() { cmp -s "$1" "$2" 2>/dev/null || cp -p "$1" "$2"; }
install_if_changed "$rootfs" "$context/rootfs.tar"
for f in Containerfile entrypoint.sh rsyncd.conf confxml.xml; do
  install_if_changed "deploy/container/$f" "$context/$f"
done
install_if_changed "$out/publish/Rsync.Daemon/netrsyncd" "$context/netrsyncd"
install_if_changed "$out/publish/SerSync.Watch/netsersync" "$context/netsersync"
chmod 755 "$context/entrypoint.sh" "$context/netrsyncd" "$context/netsersync"
chmod 644 "$context/rsyncd.conf" "$context/confxml.xml"

step "podman build $tag"
# --format docker keeps HEALTHCHECK, which the OCI image format has no field for.
bash scripts/podman.sh build --format docker --pull=never --layers -t "$tag" -f "$context/Containerfile" "$context" >&2
# The image this build replaced is left without a tag: remove such leftovers of this image only.
podman image prune -f --filter label=org.opencontainers.image.title=netrsync >/dev/null 2>&1 || true
size=$(podman image inspect --format '{{.Size}}' "$tag")
step "built $tag: $(( size / 1000000 )) MB"
