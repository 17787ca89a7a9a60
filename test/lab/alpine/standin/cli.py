"""Entry point: parse apk's command line, run one applet, exit with apk's code."""
from __future__ import annotations

import sys

from .applets import APPLETS
from .context import Context, machine_arch
from .options import UsageError, parse

VERSION = "apk-tools 2.14.0 (Tower lab stand-in)"

USAGE = f"""{VERSION}, compiled for {machine_arch()}.

usage: apk [<OPTIONS>...] COMMAND [<ARGUMENTS>...]

Commands supported by this stand-in:
  add       Add packages to WORLD and commit changes (add --initdb creates the database)
  del       Remove packages from WORLD and commit changes
  upgrade   Install upgrades available from repositories
  update    Update repository indexes
  info      Give detailed information about installed packages

Global options: -p/--root DIR, -X/--repository URL, --repositories-file FILE, --keys-dir DIR, --arch ARCH,
  --allow-untrusted, --no-cache, -U/--update-cache, --force-refresh, --cache-max-age MIN, --no-network,
  --progress, --no-progress, --progress-fd FD, -q, -v, -h, -V, --print-arch
This is a test double for the Tower lab, not apk: see test/lab/alpine/README.md for what it leaves out.
"""


def main(argv: list[str]) -> int:
    try:
        opts = parse(argv)
    except UsageError as e:
        sys.stderr.write(f"apk: {e}\n")
        return 1
    if opts.version:
        print(VERSION)
        return 0
    if opts.help:
        print(USAGE, end="")
        return 0
    ctx = Context(opts)
    if opts.print_arch:
        print(ctx.arch)
        return 0
    if not opts.applet:
        sys.stderr.write(USAGE)
        if opts.args:
            sys.stderr.write(f"ERROR: '{opts.args[0]}' is not an applet this stand-in supports\n")
        return 1
    try:
        return min(APPLETS[opts.applet](ctx), 255)
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.fetcher.close()
        sys.stdout.flush()
