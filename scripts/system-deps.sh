#!/usr/bin/env bash
# Install the Debian 12 packages that Tower's tests, benchmarks and demo lab use, when any is missing.
# Real components, not fakes: OpenSSH server and client, iproute2 (network namespaces), iptables/nftables
# (host firewalls), shellcheck and systemd-analyze (service files), zsh and fish (completion scripts), mtools and
# xz-utils (towerd writes host images with them), fdisk and dosfstools (test images: sfdisk, mkfs.vfat, fsck.vfat),
# openssl (sha512-crypt cross-check), and for GUI apps: TigerVNC's Xvnc and vncviewer, openbox, xauth, xprop and
# xrandr (x11-utils, x11-xserver-utils; what hosts run per app), xdotool and xev (x11-utils; the viewer's window
# class and size), xterm and x11-apps (test apps), xwd and xwininfo (x11-utils; screenshots, geometry),
# matchbox-window-manager and wmctrl (the apps test's window manager on the thin-client screen; wmctrl also does
# `xdotool windowquit` for the lab's Alpine-like hosts, whose Debian xdotool lacks it).
# Sound and clipboard: pulseaudio and pulseaudio-utils (the thin client's server; paplay, parecord), sway and
# wl-clipboard (a headless Wayland session with wl-copy/wl-paste), xvfb and xclip (hosts' app displays),
# netcat-openbsd (TowerOS's clipboard services on 5556/5557). Backups: restic (runs on the lab's hosts, which see
# this machine's /usr/bin; Alpine's `apk add restic` there). The lab's Alpine-like hosts: busybox (sh, applets)
# and opendoas (doas, linked as sudo); faketime and libfaketime (a lab host's faked clock: its sessions run under
# libfaketime, so that setting a host's clock never moves the machine's, which every lab host shares). App menus:
# desktop-file-utils (desktop-file-validate checks every entry towerd writes) and libglib2.0-bin (`gio launch`,
# GLib's launcher, runs a written entry's Exec as a desktop would). age (1.1.1): decrypts a `towerctl backup export`
# file, proving it is real age.
set -euo pipefail
packages=(openssh-server openssh-client iproute2 iptables nftables util-linux procps shellcheck systemd zsh fish mtools xz-utils fdisk dosfstools openssl
  tigervnc-standalone-server tigervnc-viewer openbox matchbox-window-manager wmctrl xauth x11-xserver-utils xdotool x11-apps x11-utils xterm
  pulseaudio pulseaudio-utils sway wl-clipboard xvfb xclip netcat-openbsd busybox opendoas faketime libfaketime
  desktop-file-utils libglib2.0-bin age restic)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
