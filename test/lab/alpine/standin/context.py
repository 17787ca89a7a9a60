"""What one run of the stand-in works with: options, output, the confined root, arch, trusted keys."""
from __future__ import annotations

import os
import platform

from . import rsa
from .fetch import Fetcher
from .fsroot import Root
from .options import Options
from .output import Out, Progress

# Inside a lab host, `installApkStandin` writes the default root here (/run is private to each lab host),
# so Tower's unchanged `apk add PKG` lands in a scratch root instead of the machine's shared /.
DEFAULT_ROOT_FILE = "/run/apk-standin/root"
CACHE_MAX_AGE = 4 * 60 * 60  # apk's default, seconds


def default_root() -> str:
    try:
        with open(DEFAULT_ROOT_FILE, encoding="utf-8") as f:
            value = f.read().strip()
            if value:
                return value
    except OSError:
        pass
    return "/"


def machine_arch() -> str:
    m = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64", "i686": "x86"}.get(m, m)


class Context:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.out = Out(opts.verbosity)
        self.root = Root(opts.root or default_root())
        self.fetcher = Fetcher()
        self.repo_errors = 0
        forced = opts.update_cache or opts.applet == "update"
        if forced:
            self.cache_max_age = 0.0
        elif opts.cache_max_age is not None:
            self.cache_max_age = opts.cache_max_age * 60.0
        else:
            self.cache_max_age = float(CACHE_MAX_AGE)
        bar = not opts.no_progress and (opts.progress or (os.isatty(1) and os.isatty(2)))
        self.progress = Progress(bar=bar, fd=opts.progress_fd)
        stored = (self.root.read_text("etc/apk/arch") or "").strip()
        self.arch = opts.arch or stored or machine_arch()
        self._keys: dict[str, tuple[int, int] | None] = {}
        self.lock_fd: int | None = None

    def trusted_key(self, name: str) -> tuple[int, int] | None:
        """The public key <keys-dir>/<name> (default <root>/etc/apk/keys), if present and readable."""
        if name not in self._keys:
            key = None
            if "/" not in name and name not in (".", ".."):
                keys_dir = self.opts.keys_dir or "etc/apk/keys"
                path = os.path.join(self.root.path, keys_dir, name)  # an absolute --keys-dir wins, as with openat
                try:
                    with open(path, encoding="ascii") as f:
                        key = rsa.load_public_key(f.read())
                except (OSError, ValueError):
                    key = None
            self._keys[name] = key
        return self._keys[name]
