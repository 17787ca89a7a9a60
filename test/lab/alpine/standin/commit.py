"""Turning a solution into changes on disk, printed as apk prints them:

    (1/2) Installing libhello (1.0-r0)
    (1/1) Upgrading hello (1.0-r0 -> 1.1-r0)
    (1/2) Purging hello (1.0-r0)
    OK: 16 KiB in 2 packages          or          1 error; 16 KiB in 2 packages

Unlike apk, which streams each package into the root as it downloads, the stand-in downloads and verifies
every package of the transaction first and writes only if all are good: a refused package leaves the root
exactly as it was (apk would keep the packages already installed in that run).
"""
from __future__ import annotations

import base64
import hashlib

from .context import Context
from .db import Database, FileRecord, InstalledPackage
from .fetch import FetchError
from .fsroot import RootError
from .output import human_size
from .package import PackageError, Verified, verify
from .repos import Package
from .solver import Solution
from .version import compare, parse_dep

Change = tuple[str, "Package | None", "Package | None"]  # ("Installing" | "Upgrading" | … | "Purging", old, new)


def summary(ctx: Context, db: Database) -> int:
    total = sum(ip.pkg.installed_size for ip in db.installed.values())
    errors = ctx.out.errors
    head = "OK:" if errors == 0 else f"{errors} error{'s' if errors > 1 else ''};"
    ctx.out.msg(f"{head} {human_size(total)} in {len(db.installed)} packages")
    return errors


def _removal_order(db: Database, names: set[str]) -> list[str]:
    """Dependants before their dependencies (a dependency cycle is broken anywhere)."""
    out: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen or n not in names:
            return
        seen.add(n)
        for other in sorted(names):
            if any(parse_dep(d).name == n for d in db.installed[other].pkg.depends):
                visit(other)
        out.append(n)

    for n in sorted(names):
        visit(n)
    return out


def plan(db: Database, sol: Solution) -> list[Change]:
    changes: list[Change] = []
    for name in sol.order:
        new = sol.selected[name]
        old = db.installed[name].pkg if name in db.installed else None
        if old is None:
            changes.append(("Installing", None, new))
        elif old.version != new.version or (new.checksum and old.checksum != new.checksum):
            c = compare(new.version, old.version)
            changes.append(("Upgrading" if c > 0 else "Downgrading" if c < 0 else "Replacing", old, new))
    gone = {n for n in db.installed if n not in sol.selected}
    for name in _removal_order(db, gone):
        changes.append(("Purging", db.installed[name].pkg, None))
    return changes


def _download(ctx: Context, changes: list[Change]) -> dict[str, Verified] | None:
    wanted = [new for _, _, new in changes if new is not None]
    total = sum(p.size for p in wanted)
    done = 0
    got: dict[str, Verified] = {}
    for pkg in wanted:
        assert pkg.repo is not None
        url = pkg.repo.file_url(ctx.arch, f"{pkg.name}-{pkg.version}.apk")
        try:
            ctx.progress.update(done, total)
            raw = ctx.fetcher.get(url, no_cache=ctx.opts.force_refresh,
                                  on_progress=lambda n, base=done: ctx.progress.update(min(base + n, total), total)).body
            got[pkg.name] = verify(pkg, raw)
        except (FetchError, PackageError) as e:
            ctx.out.error(f"{pkg.label()}: {e}")
            if e.detail:
                ctx.out.msg(f"  {e.detail}", level=2)
            return None
        done += pkg.size
    ctx.progress.update(total, total)
    return got


def _conflicts(ctx: Context, db: Database, changes: list[Change], got: dict[str, Verified]) -> bool:
    replaced = {old.name for _, old, _ in changes if old is not None}
    ok = True
    for v in got.values():
        for e in v.entries:
            if e.kind == "dir":
                continue
            owner = db.owner_of(e.name)
            if owner and owner != v.pkg.name and owner not in replaced:
                ctx.out.error(f"{v.pkg.label()}: trying to overwrite {e.name} owned by {db.installed[owner].pkg.label()}.")
                ok = False
    return ok


def _install(ctx: Context, db: Database, v: Verified, old: InstalledPackage | None) -> None:
    dirs: list[str] = []
    files: list[FileRecord] = []
    for e in v.entries:
        path = e.name
        if not path:
            continue
        parts = path.split("/")
        for i in range(1, len(parts)):  # parents first, even if the archive does not list them
            d = "/".join(parts[:i])
            if d not in dirs:
                ctx.root.makedirs(d)
                dirs.append(d)
        if e.kind == "dir":
            ctx.root.makedirs(path, e.mode & 0o7777)
            if path not in dirs:
                dirs.append(path)
        elif e.kind == "file":
            ctx.root.write_bytes(path, e.data, e.mode & 0o7777)
            sha1 = e.pax.get("APK-TOOLS.checksum.SHA1") or hashlib.sha1(e.data).hexdigest()
            files.append(FileRecord(path, e.mode & 0o7777, "Q1" + base64.b64encode(bytes.fromhex(sha1)).decode()))
        elif e.kind == "symlink":
            ctx.root.symlink(path, e.linkname)
            files.append(FileRecord(path, 0o777))
        else:
            ctx.out.warn(f"{v.pkg.label()}: skipping {path}: special files are not supported by the stand-in")
    db.installed[v.pkg.name] = InstalledPackage(v.pkg, dirs, files)
    if old is not None:
        keep = {f.path for f in files}
        _remove_files(ctx, db, old, keep=frozenset(keep), keep_dirs=frozenset(dirs))


def _remove_files(ctx: Context, db: Database, ip: InstalledPackage, keep: frozenset[str] = frozenset(),
                  keep_dirs: frozenset[str] = frozenset()) -> None:
    for f in ip.files:
        if f.path in keep:
            continue
        owner = db.owner_of(f.path)
        if owner is not None and owner != ip.pkg.name:
            continue
        ctx.root.remove(f.path)
    for d in sorted(ip.dirs, key=lambda d: d.count("/"), reverse=True):
        if d in keep_dirs or any(d in other.dirs for other in db.installed.values() if other is not ip):
            continue
        ctx.root.rmdir_if_empty(d)


def commit(ctx: Context, db: Database, sol: Solution, world: list[str]) -> int:
    changes = plan(db, sol)
    if ctx.opts.simulate:
        for i, (kind, old, new) in enumerate(changes, 1):
            ctx.out.msg(_line(i, len(changes), kind, old, new))
        return summary(ctx, db)
    got: dict[str, Verified] = {}
    if changes:
        fetched = _download(ctx, changes)
        if fetched is None or not _conflicts(ctx, db, changes, fetched):
            return summary(ctx, db)
        got = fetched
    try:
        for i, (kind, old, new) in enumerate(changes, 1):
            ctx.out.msg(_line(i, len(changes), kind, old, new))
            if new is None:
                assert old is not None
                ip = db.installed.pop(old.name)
                _remove_files(ctx, db, ip)
            else:
                _install(ctx, db, got[new.name], db.installed.get(new.name))
        db.world = world
        db.save()
    except (OSError, RootError) as e:
        ctx.out.error(f"{e}")
        db.save()  # record what did get installed, like apk
    return summary(ctx, db)


def _line(i: int, n: int, kind: str, old: Package | None, new: Package | None) -> str:
    width = len(str(n))
    if kind == "Purging":
        assert old is not None
        return f"({i:>{width}}/{n}) Purging {old.name} ({old.version})"
    assert new is not None
    if old is not None and kind != "Installing":
        return f"({i:>{width}}/{n}) {kind} {new.name} ({old.version} -> {new.version})"
    return f"({i:>{width}}/{n}) {kind} {new.name} ({new.version})"
