#!/bin/bash
# Build (once) the shared read-only Debian 12 root file system that every test host overlays.
# Needs root, debootstrap and the Debian mirror this machine's apt uses. Idempotent: an
# existing base is kept. Usage: testfleet/base.sh
set -euo pipefail
D=${OPENWATCH_TESTFLEET_DIR:-/var/cache/openwatch-testfleet}
BASE=$D/rootfs
# The mirror comes from this machine's own apt configuration (deb822 sources first, then the
# one-line format); the repository names none.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] && awk '/^URIs:/{print $2; found=1; exit} END{exit !found}' "$f" && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] && awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z+]+:\/\//){print $i; found=1; exit}} found{exit} END{exit !found}' "$f" && return 0
  done
  return 1
}
MIRROR=${MIRROR:-$(apt_mirror || true)}
[ -n "$MIRROR" ] || {
  echo "testfleet/base.sh: no Debian mirror in this machine's apt configuration (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list); set MIRROR=<url> to choose one" >&2
  exit 2
}
# Packages the rule proofs exercise (auditd, pwquality, chrony, AppArmor, rsyslog...) are in
# the base so a proof can pass without a network inside the test hosts; a failing variant
# removes them from its own overlay with dpkg.
PKGS=openssh-server,sudo,procps,cron,linux-base,systemd,systemd-sysv,passwd,login,auditd,audispd-plugins,libpam-pwquality,chrony,apparmor,apparmor-utils,rsyslog,logrotate,nftables
VERSION="$PKGS"

[ "$(id -u)" = 0 ] || { echo "testfleet/base.sh: needs root" >&2; exit 2; }
if [ -x "$BASE/usr/sbin/sshd" ] && [ "$(cat "$BASE/.openwatch-base-ready" 2>/dev/null)" = "$VERSION" ]; then
  echo "base ready: $BASE"; exit 0
fi
command -v debootstrap >/dev/null || { echo "testfleet/base.sh: install debootstrap (apt-get install debootstrap)" >&2; exit 2; }
rm -rf "$BASE.tmp"
mkdir -p "$D"
debootstrap --variant=minbase --include="$PKGS" bookworm "$BASE.tmp" "$MIRROR" >"$D/debootstrap.log" 2>&1 \
  || { tail -20 "$D/debootstrap.log" >&2; exit 1; }
# Host keys are made per host; the base holds none.
rm -f "$BASE.tmp"/etc/ssh/ssh_host_*
# An unprivileged account for the sudo paths (keys and passwords are set per host).
chroot "$BASE.tmp" useradd -m -s /bin/bash tester
printf 'UseDNS no\nMaxStartups 200:30:400\nMaxSessions 64\n' > "$BASE.tmp/etc/ssh/sshd_config.d/10-testfleet.conf"
: > "$BASE.tmp/etc/machine-id"
chroot "$BASE.tmp" apt-get clean >/dev/null 2>&1 || true
echo "$VERSION" > "$BASE.tmp/.openwatch-base-ready"
rm -rf "$BASE"; mv "$BASE.tmp" "$BASE"
echo "base ready: $BASE ($(du -sh "$BASE" | cut -f1))"
