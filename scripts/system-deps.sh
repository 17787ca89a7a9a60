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
  /** a file transfer was refused: the policy, an entry that failed the checks, a question that could not be asked */
  FilesRefused: -32050,
  /** a file transfer failed on the way (a tar on an end, a lost connection); the target keeps nothing of it */
  FilesFailed: -32051,
  /** no transfer waiting for an answer with that id */
  TransferNotFound: -32052,
  /** a key rotation could not be finished; the host still accepts the key towerd uses (the message says which) */
  KeyRotationFailed: -32053,
  /** the router's Wi-Fi settings could not be written or its Wi-Fi not restarted (before any uplink check) */
  WlanFailed: -32054,
  /** the host has no backup set of that name (towerd.json backup.sets) */
  NoBackupSet: -32055,
  /** the set's repository key is not on this thin client (no backup has run yet) */
  NoBackupKey: -32056,
  /** restic failed, or the snapshot asked for is not in the repository */
  BackupFailed: -32057,
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
