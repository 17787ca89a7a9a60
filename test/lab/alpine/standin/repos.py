"""Repositories: where they are listed, how their APKINDEX.tar.gz is fetched, cached and trusted.

Like apk 2.14 (database.c, apk_db_add_repository): with --no-cache every index is fetched each run and
nothing is stored; otherwise the index lives in <root>/var/cache/apk/APKINDEX.<hash>.tar.gz and is
re-fetched (with If-Modified-Since) when older than the cache max age (4 h; 0 for `update` and -U), only
by applets that auto-update (add, upgrade, update; not del/info). A repository that cannot be fetched or
trusted is only a WARNING; its packages are then simply unavailable.
"""
from __future__ import annotations

import hashlib
import time
import urllib.parse
from dataclasses import dataclass, field

from . import rsa
from .archive import FormatError, gzip_members, signature_of, tar_entries
from .context import Context
from .fetch import FetchError
from .fsroot import RootError


@dataclass
class Package:
    name: str
    version: str
    fields: dict[str, str]  # the index record, single-letter keys
    repo: "Repository | None" = None

    @property
    def depends(self) -> list[str]:
        return self.fields.get("D", "").split()

    @property
    def provides(self) -> list[str]:
        return self.fields.get("p", "").split()

    @property
    def size(self) -> int:
        return int(self.fields.get("S", "0") or 0)

    @property
    def installed_size(self) -> int:
        return int(self.fields.get("I", "0") or 0)

    @property
    def checksum(self) -> str:
        return self.fields.get("C", "")

    def label(self) -> str:
        return f"{self.name}-{self.version}"


@dataclass
class Repository:
    url: str  # as configured, e.g. http://dl-cdn.alpinelinux.org/alpine/v3.19/main
    tag: str = ""  # "@tag url" lines: only packages asked for as name@tag come from here
    description: str = ""
    packages: list[Package] = field(default_factory=list)
    ok: bool = False

    def file_url(self, arch: str, name: str) -> str:
        return f"{self.url.rstrip('/')}/{arch}/{name}"

    @property
    def remote(self) -> bool:
        return self.url.startswith(("http://", "https://"))


def configured(ctx: Context) -> list[Repository]:
    """-X/--repository first, then the repositories file (default <root>/etc/apk/repositories)."""
    lines = list(ctx.opts.repositories)
    path = ctx.opts.repositories_file
    text = None
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:  # relative to the cwd, as apk opens it
                text = f.read()
        except OSError as e:
            ctx.out.error(f"{path}: {e.strerror}")
    else:
        text = ctx.root.read_text("etc/apk/repositories")
    if text:
        lines += [ln.strip() for ln in text.splitlines()]
    repos: list[Repository] = []
    for ln in lines:
        if not ln or ln.startswith("#"):
            continue
        tag = ""
        if ln.startswith("@"):
            tag, _, ln = ln[1:].partition(" ")
            ln = ln.strip()
        if ln and all(r.url != ln for r in repos):
            repos.append(Repository(url=ln, tag=tag))
    return repos


def parse_apkindex(text: str) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            if cur:
                records.append(cur)
                cur = {}
            continue
        if len(line) >= 2 and line[1] == ":":
            cur[line[0]] = line[2:]
    if cur:
        records.append(cur)
    return records


class TrustError(Exception):
    pass


def verify_index(ctx: Context, raw: bytes) -> tuple[str, str]:
    """(DESCRIPTION, APKINDEX text) of an index file, after checking its signature as apk does."""
    members = gzip_members(raw)
    if not members:
        raise FormatError("empty index")
    sig = signature_of(tar_entries(members[0].data)) if len(members) > 1 else None
    body = members[1:] if sig else members
    if sig:
        digest, keyname, signature = sig
        key = ctx.trusted_key(keyname)
        if key is None:
            if not ctx.opts.allow_untrusted:
                raise TrustError("UNTRUSTED signature")
        elif not rsa.verify(key, digest, b"".join(m.raw for m in body), signature):
            raise TrustError("BAD signature")  # even --allow-untrusted does not accept a broken signature
    elif not ctx.opts.allow_untrusted:
        raise TrustError("UNTRUSTED signature")
    desc, text = "", None
    for e in tar_entries(b"".join(m.data for m in body)):
        if e.name == "DESCRIPTION":
            desc = e.data.decode("utf-8", "replace")
        elif e.name == "APKINDEX":
            text = e.data.decode("utf-8", "replace")
    if text is None:
        raise FormatError("v2 index format error")
    return desc, text


def _cache_name(index_url: str) -> str:
    return f"var/cache/apk/APKINDEX.{hashlib.sha1(index_url.encode()).hexdigest()[:8]}.tar.gz"


def _read_local(url: str) -> bytes:
    path = urllib.parse.urlsplit(url).path if url.startswith("file:") else url
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FetchError(e.strerror or "I/O error", path) from None


def load(ctx: Context, repo: Repository, autoupdate: bool) -> None:
    """Fetch or open one index; failures are warnings worded as apk words them (database.c)."""
    index_url = repo.file_url(ctx.arch, "APKINDEX.tar.gz")
    raw: bytes | None = None
    update_error: Exception | None = None
    error: Exception | None = None
    action = "opening"
    try:
        if not repo.remote:
            raw = _read_local(index_url)
        elif ctx.opts.no_cache or not ctx.root.exists("var/cache/apk"):
            action = "fetching"
            if ctx.opts.no_network:
                raise FetchError("network connection error", "--no-network")
            ctx.out.msg(f"fetch {index_url}")
            raw = ctx.fetcher.get(index_url, no_cache=ctx.opts.force_refresh).body
        else:
            action = "opening from cache"
            try:
                _refresh_cache(ctx, index_url, autoupdate)
            except (FetchError, TrustError, FormatError, RootError) as e:
                update_error = e
            raw = ctx.root.read_bytes(_cache_name(index_url))
            if raw is None:
                raise FetchError("No such file or directory", f"no cached copy of {index_url}")
        repo.description, text = verify_index(ctx, raw)
    except (FetchError, TrustError, FormatError, RootError) as e:
        error = e
    if error or update_error:
        if update_error:
            action = "updating and opening" if error else "updating"
        shown = update_error or error
        if isinstance(shown, FetchError) and shown.detail:
            ctx.out.msg(f"  ({shown.detail})", level=2)
        ctx.out.warn(f"{action} {repo.url}: {shown}")
        ctx.repo_errors += 1
        if error:
            return
    for rec in parse_apkindex(text):
        if "P" in rec and "V" in rec:
            repo.packages.append(Package(rec["P"], rec["V"], rec, repo))
    repo.ok = True


def _refresh_cache(ctx: Context, index_url: str, autoupdate: bool) -> None:
    """apk_cache_download: re-fetch when older than the max age, with If-Modified-Since; 304 just touches."""
    cache = _cache_name(index_url)
    mtime = ctx.root.mtime(cache)
    stale = mtime is None or time.time() - mtime > ctx.cache_max_age
    if not (autoupdate and stale) or ctx.opts.no_network:
        return
    ctx.out.msg(f"fetch {index_url}")
    resp = ctx.fetcher.get(index_url, if_modified_since=None if ctx.opts.force_refresh else mtime,
                           no_cache=ctx.opts.force_refresh)
    if resp.status == 304:
        ctx.root.touch(cache)
        return
    verify_index(ctx, resp.body)  # never cache an index that would not load
    ctx.root.write_bytes(cache, resp.body)


def load_all(ctx: Context, autoupdate: bool) -> list[Repository]:
    repos = configured(ctx)
    for r in repos:
        load(ctx, r, autoupdate)
    return repos
