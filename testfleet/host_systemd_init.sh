#!/bin/bash
# PID 1 (before exec) of a test host that runs systemd: give the overlay root its own /proc
# (with the machine-wide /proc/sys read-only and only the host's own network values
# writable), a read-only /sys, its own cgroup2 tree (the cgroup namespace makes the host's
# cgroup the root), /dev, /run and /tmp, then exec systemd in it. systemd starts sshd
# (ssh.service, port 22) like on a real machine, so `systemctl` answers truthfully.
# The capabilities that reach the whole machine (its clock, kernel modules) are dropped.
# Usage (from host.sh): host_systemd_init.sh NAME MERGED_ROOT
set -eu
NAME=$1; M=$2
mount --make-rprivate /
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount --bind "$M/proc/sys" "$M/proc/sys"; mount -o remount,bind,ro "$M/proc/sys"
mount --bind "$M/proc/sys/net" "$M/proc/sys/net"; mount -o remount,bind,rw "$M/proc/sys/net"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$M/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$M/sys/fs/cgroup"
mount -t tmpfs -o mode=755,size=1m,nosuid tmpfs "$M/dev"
for d in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
  set -- $d; mknod -m 666 "$M/dev/$1" c "$2" "$3"
done
mkdir -p "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"; ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
mount -t tmpfs -o nosuid,nodev,size=16m tmpfs "$M/dev/shm"
# systemd refuses to reload with less than 16 MiB free on /run.
mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs "$M/run"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$M/tmp"
hostname "$NAME"
export container=openwatch-testfleet
exec setpriv --bounding-set -sys_time,-sys_module -- chroot "$M" /lib/systemd/systemd
