#!/bin/sh
# Lays out the image's root filesystem in the directory $1, which holds Debian's libc6, libssl3 and
# bash (and what they depend on) as extracted from their packages: takes out what nothing in the
# image uses, and adds the users, folders and links the entrypoint relies on.
# Runs outside the image (no program of the image is run), so it works on any root filesystem.
set -eu
root=${1:?usage: layout.sh ROOTFS_DIR}
[ -d "$root/usr" ] || { echo "layout.sh: $root is not a root filesystem" >&2; exit 1; }

# Translations, manuals and glibc's iconv modules: the programs are built with invariant
# globalization and convert character sets in managed code. The copyright files stay.
rm -rf "$root/usr/share/locale" "$root/usr/share/man" "$root/usr/share/info" \
  "$root/usr/share/lintian" "$root/usr/share/menu" "$root"/usr/lib/*/gconv \
  "$root/var/cache/apt" "$root/var/lib/apt" "$root/var/log/"* "$root/boot" "$root/home" "$root/srv" \
  "$root/opt" "$root/media" "$root/mnt"
find "$root/usr/share/doc" -mindepth 1 \( -type f -o -type l \) ! -name copyright -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true

# Users: root for configs that ask for uid = root (the seed's does), netrsync (873, after the port)
# for running without root, nobody for rsyncd.conf's default module user.
cat > "$root/etc/passwd" <<'USERS'
root:x:0:0:root:/root:/bin/bash
netrsync:x:873:873:netrsync:/var/lib/netrsync:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
USERS
cat > "$root/etc/group" <<'GROUPS'
root:x:0:
netrsync:x:873:
nogroup:x:65534:
GROUPS
chmod 644 "$root/etc/passwd" "$root/etc/group"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"

# The credentials the entrypoint makes when none are mounted live in one folder that root and
# netrsync can both write; the paths the configs name link there.
mkdir -p "$root/var/lib/netrsync" "$root/app/local/sersync" "$root/syncdir" "$root/var/log" "$root/tmp" "$root/root" "$root/run"
chown 873:873 "$root/var/lib/netrsync" "$root/syncdir"
chmod 700 "$root/var/lib/netrsync"
chmod 755 "$root/syncdir" "$root/app" "$root/app/local" "$root/app/local/sersync"
chmod 1777 "$root/tmp"
ln -sfn /var/lib/netrsync/rsync.pass "$root/etc/rsync.pass"
ln -sfn /var/lib/netrsync/user.pass "$root/app/local/sersync/user.pass"

# The daemon's "log file = /var/log/rsyncd.log" lands on the container's output: the first
# process's stdout (a connection's own process has its stdout on /dev/null, so /dev/stdout won't do).
ln -sfn /proc/1/fd/1 "$root/var/log/rsyncd.log"
