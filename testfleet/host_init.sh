#!/bin/bash
# PID 1 of a test host's private PID/mount/UTS/IPC namespaces: give the overlay root its own
# /proc, /sys, /dev, /run and /tmp, then run sshd in the foreground inside it.
# Usage (from host.sh): host_init.sh NAME MERGED_ROOT LISTEN_ADDRESS PORT
set -eu
NAME=$1; M=$2; LISTEN=$3; PORT=$4
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$M/sys"
mount -t tmpfs -o mode=755,size=1m,nosuid tmpfs "$M/dev"
for d in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
  set -- $d; mknod -m 666 "$M/dev/$1" c "$2" "$3"
done
mkdir -p "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"; ln -s /proc/self/fd "$M/dev/fd"
mount -t tmpfs -o nosuid,nodev,noexec,size=16m tmpfs "$M/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev,size=16m tmpfs "$M/run"
mkdir -m 755 "$M/run/sshd"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$M/tmp"
hostname "$NAME"
exec chroot "$M" /usr/sbin/sshd -D -e -o "ListenAddress=$LISTEN" -p "$PORT"
