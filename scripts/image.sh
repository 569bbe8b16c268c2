#!/usr/bin/env bash
# Builds the Dockerfile without a Docker engine, as CI does, so that the image cannot silently
# break: buildah in chroot isolation, on a debian:bookworm base made locally with debootstrap
# (nothing is pulled from a registry), then runs the image's default command once.
#   scripts/image.sh [TAG]        default tag: libpoll
# The builder's chroot has a hard limit of 1,024 descriptors: the tests that run inside it must
# size themselves to that limit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-libpoll}
base=docker.io/library/debian:bookworm

"$root/scripts/setup.sh" buildah debootstrap

if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  rootfs=$(mktemp -d /var/tmp/bookworm-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "image.sh: making $base with debootstrap --variant=minbase" >&2
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  container=$(buildah from scratch)
  buildah add "$container" "$rootfs" / >/dev/null
  buildah commit -q "$container" "$base" >/dev/null
  buildah rm "$container" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

echo "image.sh: buildah bud --isolation=chroot -t $tag" >&2
buildah bud --isolation=chroot --pull=never --layers=false -t "$tag" "$root"

# The image's default command is the main job: pollscope on its built-in default scenario.
container=$(buildah from "$tag")
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
buildah run --isolation=chroot "$container" -- pollscope run --quiet >/dev/null
echo "image.sh: $tag built, its scenarios validated, and its default command ran" >&2
