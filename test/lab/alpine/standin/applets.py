"""The applets: add, del, upgrade, update, info. Each returns apk's exit code (0, or the number of errors)."""
from __future__ import annotations

import fcntl
import os
import sys
from typing import Callable

from .commit import commit, summary
from .context import Context
from .db import Database
from .fsroot import RootError
from .output import human_size
from .repos import Repository, load_all
from .solver import print_problems, solve
from .version import parse_dep

INITDB_FILES = ("lib/apk/db/installed", "lib/apk/db/triggers", "lib/apk/db/scripts.tar", "etc/apk/world")


def _init(ctx: Context) -> None:
    os.makedirs(ctx.root.path, mode=0o755, exist_ok=True)
    for d in ("etc/apk", "lib/apk/db", "var/cache/apk", "var/cache/misc"):
        ctx.root.makedirs(d)
    for f in INITDB_FILES:
        if not ctx.root.exists(f):
            ctx.root.write_bytes(f, b"")
    if ctx.opts.arch:
        ctx.root.write_bytes("etc/apk/arch", f"{ctx.opts.arch}\n".encode())


def open_db(ctx: Context, write: bool) -> Database | None:
    if ctx.root.path == "/" and not os.path.exists("/etc/alpine-release"):
        # Lab hosts share the machine's /: an apk run without --root must not install into Debian.
        ctx.out.error("refusing to use / as the root on a system that is not Alpine: pass --root "
                      "(Tower lab stand-in; see test/lab/alpine/README.md)")
        return None
    try:
        if ctx.opts.initdb:
            _init(ctx)
        db = Database(ctx.root)
        if write:
            if not db.initialised:
                ctx.out.error("Unable to lock database: No such file or directory")
                ctx.out.error("Failed to open apk database: No such file or directory")
                return None
            fd = os.open(ctx.root.abs("lib/apk/db/lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                ctx.out.error("Unable to lock database: temporary error (try again later)")
                ctx.out.error("Failed to open apk database: temporary error (try again later)")
                return None
            ctx.lock_fd = fd  # held until the process exits, like apk
        db.load()
        return db
    except (OSError, RootError) as e:
        ctx.out.error(f"Failed to open apk database: {getattr(e, 'strerror', None) or e}")
        return None


def _solve_and_commit(ctx: Context, db: Database, repos: list[Repository], world: list[str],
                      upgrade: Callable[[str], bool]) -> int:
    installed = {n: ip.pkg for n, ip in db.installed.items()}
    sol = solve(world, repos, installed, upgrade)
    if sol.problems:
        print_problems(ctx.out, sol.problems)
        return ctx.out.errors
    return commit(ctx, db, sol, world)


def add(ctx: Context) -> int:
    db = open_db(ctx, write=True)
    if db is None:
        return ctx.out.errors
    try:
        new = [parse_dep(a) for a in ctx.opts.args]
    except ValueError as e:
        ctx.out.error(str(e))
        return ctx.out.errors
    repos = load_all(ctx, autoupdate=True)
    names = {d.name for d in new}
    world = [w for w in db.world if parse_dep(w).name not in names] + [str(d) for d in new]
    upgrade_all = bool(ctx.opts.upgrade)
    return _solve_and_commit(ctx, db, repos, world, lambda n: upgrade_all or (n in names and ctx.opts.latest))


def delete(ctx: Context) -> int:
    db = open_db(ctx, write=True)
    if db is None:
        return ctx.out.errors
    repos = load_all(ctx, autoupdate=False)
    known = set(db.installed) | {parse_dep(w).name for w in db.world} | {p.name for r in repos for p in r.packages}
    for a in ctx.opts.args:
        if a not in known:
            ctx.out.error(f"No such package: {a}")
    if ctx.out.errors:
        return ctx.out.errors
    drop = set(ctx.opts.args)
    if ctx.opts.rdepends:  # -r: also whatever installed package depends on them
        grew = True
        while grew:
            grew = False
            for name, ip in db.installed.items():
                if name not in drop and any(parse_dep(d).name in drop for d in ip.pkg.depends):
                    drop.add(name)
                    grew = True
    world = [w for w in db.world if parse_dep(w).name not in drop]
    installed = {n: ip.pkg for n, ip in db.installed.items()}
    sol = solve(world, repos, installed, lambda n: False)
    kept = [a for a in ctx.opts.args if a in sol.selected]
    if kept and not sol.problems:
        ctx.out.msg("World updated, but the following packages are not removed due to:")
        for a in kept:
            users = [n for n, p in sol.selected.items() if any(parse_dep(d).name == a for d in p.depends)]
            ctx.out.msg(f"  {a}: {' '.join(sorted(users))}")
        ctx.out.msg("")
    return _solve_and_commit(ctx, db, repos, world, lambda n: False)


def upgrade(ctx: Context) -> int:
    db = open_db(ctx, write=True)
    if db is None:
        return ctx.out.errors
    repos = load_all(ctx, autoupdate=True)
    if ctx.opts.self_upgrade_only:  # the stand-in is not a package
        return summary(ctx, db)
    only = set(ctx.opts.args)
    return _solve_and_commit(ctx, db, repos, db.world, lambda n: not only or n in only)


def update(ctx: Context) -> int:
    if open_db(ctx, write=False) is None:
        return ctx.out.errors
    repos = load_all(ctx, autoupdate=True)
    for r in repos:
        if r.ok:
            ctx.out.msg(f"{r.description} [{r.url}]")
    distinct = len({(p.name, p.version) for r in repos for p in r.packages})
    errors = ctx.repo_errors
    head = "OK:" if errors == 0 else f"{errors} error{'s' if errors > 1 else ''};"
    ctx.out.msg(f"{head} {distinct} distinct packages available")
    return errors


def info(ctx: Context) -> int:
    """Installed packages only: the stand-in's info never reads repositories or the network."""
    db = open_db(ctx, write=False)
    if db is None:
        return ctx.out.errors
    o, v = ctx.opts, ctx.opts.verbosity
    if not o.args:
        for name in sorted(db.installed):
            p = db.installed[name].pkg
            print(p.label() if v > 1 else name)
        return 0
    if o.installed:
        missing = 0
        for a in o.args:
            if a in db.installed:
                print(a)
            else:
                missing += 1
        return missing
    wanted = [s for s in ("description", "webpage", "size", "depends", "contents") if getattr(o, s)]
    wanted = wanted or ["description", "webpage", "size"]
    for a in o.args:
        ip = db.installed.get(a)
        if ip is None:
            continue
        p = ip.pkg
        sections = {
            "description": ("description", [p.fields.get("T", "")]),
            "webpage": ("webpage", [p.fields.get("U", "")]),
            "size": ("installed size", [human_size(p.installed_size)]),
            "depends": ("depends on", p.depends),
            "contents": ("contains", [f.path for f in ip.files]),
        }
        for s in wanted:
            title, lines = sections[s]
            if v == 1:
                print(f"{p.label()} {title}:")
            for line in lines:
                print(f"{p.name}: {line}" if v > 1 else line)
            if v == 1:
                print()
    sys.stdout.flush()
    return 0


APPLETS = {"add": add, "del": delete, "upgrade": upgrade, "update": update, "info": info}
