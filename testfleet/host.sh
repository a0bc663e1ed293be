#!/bin/bash
# SSH-reachable Debian 12 test hosts on this machine, each in its own network namespace with
# an overlay root (lower: the shared base from base.sh; upper: this host's changes).
#
#   host.sh prepare N        mount host N's root at $D/hosts/hN/root, make its host keys
#   host.sh start N [PORT]   start sshd (port 22 by default); prints "ADDRESS PORT" once it
#                            accepts connections
#   host.sh up N [PORT]      prepare + start
#   host.sh root N           print host N's root directory (write deviations there)
#   host.sh exec N CMD...    run CMD in host N's network namespace (e.g. sysctl -w)
#   host.sh run N CMD...     run CMD inside host N: every namespace and the root of its PID 1
#   host.sh down N|all       stop and remove host N (or every host) and, last, the bridge
#
# With OPENWATCH_TESTFLEET_INIT=systemd, `start` boots systemd as the host's PID 1 (in its
# own cgroup) and systemd starts sshd on port 22, so services can be enabled, masked and
# restarted as on a real machine (host_systemd_init.sh says what such a host can and cannot
# change). Otherwise sshd runs alone (host_init.sh).
#
# Host N (1..200) listens on 10.201.0.(10+N):PORT in netns owtN, bridged to owbr0
# (10.201.0.1/24 on this side, no default route: traffic stays on this machine).
set -euo pipefail
D=${OPENWATCH_TESTFLEET_DIR:-/var/cache/openwatch-testfleet}
BASE=$D/rootfs; BR=owbr0; HERE=$(dirname "$(readlink -f "$0")")
cmd=${1:?usage: host.sh prepare|start|up|root|exec|down N}; N=${2:?host number}

paths() {
  [ "$N" -ge 1 ] && [ "$N" -le 200 ] || { echo "host number must be 1..200" >&2; exit 2; }
  H=$D/hosts/h$N; M=$H/root; NS=owt$N; VETH=owv$N; ADDR=10.201.0.$((10 + N))
}

prepare() {
  paths
  [ -f "$BASE/.openwatch-base-ready" ] || { echo "run testfleet/base.sh first" >&2; exit 1; }
  mkdir -p "$H/upper" "$H/work" "$M"
  mountpoint -q "$M" || mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$H/upper,workdir=$H/work" "$M"
  echo "h$N" > "$M/etc/hostname"
  printf '127.0.0.1\tlocalhost\n%s\th%s\n' "$ADDR" "$N" > "$M/etc/hosts"
  [ -f "$M/etc/ssh/ssh_host_ed25519_key" ] || chroot "$M" ssh-keygen -A >/dev/null
}

start() {
  paths
  PORT=${1:-22}
  if [ -f "$H/launcher.pid" ] && kill -0 "$(cat "$H/launcher.pid")" 2>/dev/null; then
    echo "h$N is already running" >&2; exit 1
  fi
  if ! ip link show "$BR" >/dev/null 2>&1; then
    ip link add "$BR" type bridge && ip addr add 10.201.0.1/24 dev "$BR" && ip link set "$BR" up
  fi
  ip netns add "$NS"
  ip link add "$VETH" type veth peer name eth0 netns "$NS"
  ip link set "$VETH" master "$BR" up
  ip -n "$NS" addr add "$ADDR/24" dev eth0
  ip -n "$NS" link set lo up
  ip -n "$NS" link set eth0 up
  if [ "${OPENWATCH_TESTFLEET_INIT:-sshd}" = systemd ]; then
    [ "$PORT" = 22 ] || { echo "h$N: a systemd host's sshd listens on port 22" >&2; exit 2; }
    CG=$(cgroup_dir)
    mkdir -p "$CG"; echo "$CG" > "$H/cgroup"
    setsid bash -c 'echo $$ > "$1/launcher.pid"; echo $$ > "$2/cgroup.procs"; shift 2; exec "$@"' _ "$H" "$CG" \
      ip netns exec "$NS" unshare --mount --uts --ipc --pid --cgroup --fork --kill-child --propagation private \
      "$HERE/host_systemd_init.sh" "h$N" "$M" > "$H/sshd.log" 2>&1 < /dev/null &
  else
    setsid bash -c 'echo $$ > "$1/launcher.pid"; shift; exec "$@"' _ "$H" \
      ip netns exec "$NS" unshare --mount --uts --ipc --pid --fork --kill-child --propagation private \
      "$HERE/host_init.sh" "h$N" "$M" "$ADDR" "$PORT" > "$H/sshd.log" 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; then echo "$ADDR $PORT"; return 0; fi
    sleep 0.05
  done
  echo "h$N: sshd did not come up; see $H/sshd.log" >&2; cat "$H/sshd.log" >&2; exit 1
}

# Where a systemd host's cgroup lives: the machine's cgroup2 tree (the unified hierarchy
# beside cgroup v1 controllers, or the whole tree on a cgroup2-only machine).
cgroup_dir() {
  if [ -d /sys/fs/cgroup/unified ]; then echo "/sys/fs/cgroup/unified/owt$N"
  elif [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then echo "/sys/fs/cgroup/owt$N"
  else echo "h$N: systemd test hosts need a cgroup2 hierarchy" >&2; exit 1; fi
}

alive() { [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

down_one() {
  N=$1; paths
  if [ -f "$H/launcher.pid" ]; then
    pid=$(cat "$H/launcher.pid")
    if alive "$pid"; then
      # unshare --fork ignores SIGTERM; stop its child (the namespace's PID 1), then insist.
      # systemd takes SIGTERM as "re-execute"; SIGRTMIN+4 powers it off.
      sig=TERM; [ -f "$H/cgroup" ] && sig=RTMIN+4
      for c in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do kill -s "$sig" "$c" 2>/dev/null || true; done
      for _ in $(seq 1 250); do alive "$pid" || break; sleep 0.02; done
      alive "$pid" && kill -KILL "$pid" 2>/dev/null
      for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.02; done
    fi
    rm -f "$H/launcher.pid"
  fi
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$VETH" 2>/dev/null || true
  if mountpoint -q "$M"; then umount "$M" 2>/dev/null || umount -l "$M"; fi
  if [ -f "$H/cgroup" ]; then
    cg=$(cat "$H/cgroup")
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  fi
  rm -rf "$H"
}

case "$cmd" in
  prepare) prepare ;;
  start) start "${3:-22}" ;;
  up) prepare; start "${3:-22}" ;;
  root) paths; echo "$M" ;;
  exec) paths; shift 2; exec ip netns exec "$NS" "$@" ;;
  run)
    paths; shift 2
    pid=$(cat "$H/launcher.pid" 2>/dev/null) || { echo "h$N is not running" >&2; exit 1; }
    init=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
    [ -n "$init" ] || { echo "h$N is not running" >&2; exit 1; }
    exec nsenter -t "$init" -m -u -i -n -p -C -r -w "$@" ;;
  down)
    if [ "$N" = all ]; then
      for h in "$D"/hosts/h*; do [ -d "$h" ] && down_one "${h##*/h}"; done
    else
      down_one "$N"
    fi
    ls -d "$D"/hosts/h* >/dev/null 2>&1 || ip link del "$BR" 2>/dev/null || true ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
