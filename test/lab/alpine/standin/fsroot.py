"""Every filesystem write of the stand-in goes through Root, which keeps it inside --root.

Paths are root-relative and normalised ("usr/bin/hello"); "..", "." and empty components are refused, and
so is any existing symlink on the way to a path (a package, or an earlier run, could have planted one that
points out of the root). The final component is replaced with rename(2), which never follows a symlink.
Stricter than apk, which follows directory symlinks inside the root.
"""
from __future__ import annotations

import os
import stat
import time


class RootError(Exception):
    pass


class Root:
    def __init__(self, path: str) -> None:
        self.path = os.path.realpath(path)

    def _parts(self, rel: str) -> list[str]:
        parts = rel.strip("/").split("/")
        if not rel.strip("/") or any(p in ("", ".", "..") for p in parts):
            raise RootError(f"unsafe path '{rel}'")
        return parts

    def _check_parents(self, parts: list[str]) -> None:
        cur = self.path
        for p in parts[:-1]:
            cur = os.path.join(cur, p)
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                return
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
                raise RootError(f"refusing to go through '{cur}': not a plain directory")

    def abs(self, rel: str) -> str:
        parts = self._parts(rel)
        self._check_parents(parts)
        return os.path.join(self.path, *parts)

    def exists(self, rel: str) -> bool:
        try:
            return os.path.lexists(self.abs(rel))
        except RootError:
            return False

    def lstat(self, rel: str) -> os.stat_result | None:
        try:
            return os.lstat(self.abs(rel))
        except FileNotFoundError:
            return None

    def mtime(self, rel: str) -> float | None:
        st = self.lstat(rel)
        return st.st_mtime if st and stat.S_ISREG(st.st_mode) else None

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            fd = os.open(self.abs(rel), os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, RootError):
            return None
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def read_text(self, rel: str) -> str | None:
        data = self.read_bytes(rel)
        return None if data is None else data.decode("utf-8", "replace")

    def makedirs(self, rel: str, mode: int = 0o755) -> None:
        cur = self.path
        for p in self._parts(rel):
            cur = os.path.join(cur, p)
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                os.mkdir(cur, mode)
                continue
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
                raise RootError(f"refusing to go through '{cur}': not a plain directory")

    def write_bytes(self, rel: str, data: bytes, mode: int = 0o644) -> None:
        """Atomic replace: a temporary file next to the target, then rename."""
        target = self.abs(rel)
        parent = os.path.dirname(rel.strip("/"))
        if parent:
            self.makedirs(parent)
        tmp = os.path.join(os.path.dirname(target), f".apk.{os.getpid()}.{os.path.basename(target)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), mode)
            st = self.lstat(rel)
            if st and stat.S_ISDIR(st.st_mode):
                raise RootError(f"'{rel}' is a directory")
            os.rename(tmp, target)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise

    def symlink(self, rel: str, target: str) -> None:
        path = self.abs(rel)
        parent = os.path.dirname(rel.strip("/"))
        if parent:
            self.makedirs(parent)
        tmp = path + f".apk.{os.getpid()}"
        os.symlink(target, tmp)
        os.rename(tmp, path)

    def touch(self, rel: str) -> None:
        now = time.time()
        os.utime(self.abs(rel), (now, now), follow_symlinks=False)

    def remove(self, rel: str) -> bool:
        path = self.abs(rel)
        st = self.lstat(rel)
        if st is None or stat.S_ISDIR(st.st_mode):
            return False
        os.unlink(path)
        return True

    def rmdir_if_empty(self, rel: str) -> bool:
        st = self.lstat(rel)
        if st is None or not stat.S_ISDIR(st.st_mode):
            return False
        try:
            os.rmdir(self.abs(rel))
            return True
        except OSError:
            return False
