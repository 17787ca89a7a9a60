"""The installed state under the root, in apk's own files:

* etc/apk/world: the explicitly requested dependencies, one per line, sorted, newline-terminated;
* lib/apk/db/installed: one record per package, the index fields (C: P: V: …) followed by its contents as
  F:<dir> lines, each followed by R:<file> [a:uid:gid:mode] Z:Q1<sha1 base64> for the files in it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .fsroot import Root
from .repos import Package
from .version import parse_dep

INSTALLED = "lib/apk/db/installed"
WORLD = "etc/apk/world"
FIELD_ORDER = "CPVASITULomtckDpi"


@dataclass
class FileRecord:
    path: str  # root-relative
    mode: int = 0o644
    checksum: str = ""


@dataclass
class InstalledPackage:
    pkg: Package
    dirs: list[str] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)


class Database:
    def __init__(self, root: Root) -> None:
        self.root = root
        self.installed: dict[str, InstalledPackage] = {}
        self.world: list[str] = []

    @property
    def initialised(self) -> bool:
        return self.root.exists("lib/apk/db")

    def load(self) -> None:
        text = self.root.read_text(INSTALLED) or ""
        cur: InstalledPackage | None = None
        cur_dir = ""
        for line in text.split("\n") + [""]:
            if not line:
                if cur is not None:
                    self.installed[cur.pkg.name] = cur
                cur, cur_dir = None, ""
                continue
            if len(line) < 2 or line[1] != ":":
                continue
            k, v = line[0], line[2:]
            if cur is None:
                cur = InstalledPackage(Package("", "", {}))
            if k == "F":
                cur_dir = v
                cur.dirs.append(v)
            elif k == "R":
                cur.files.append(FileRecord(f"{cur_dir}/{v}" if cur_dir else v))
            elif k == "a" and cur.files:
                cur.files[-1].mode = int(v.split(":")[-1], 8)
            elif k == "Z" and cur.files:
                cur.files[-1].checksum = v
            elif k == "M":
                continue
            else:
                cur.pkg.fields[k] = v
                if k == "P":
                    cur.pkg.name = v
                elif k == "V":
                    cur.pkg.version = v
        world = self.root.read_text(WORLD) or ""
        self.world = [w for w in world.split() if w]

    def owner_of(self, path: str) -> str | None:
        for name, ip in self.installed.items():
            if any(f.path == path for f in ip.files):
                return name
        return None

    def dir_users(self, d: str) -> int:
        return sum(1 for ip in self.installed.values() if d in ip.dirs)

    def save(self) -> None:
        records = []
        for name in sorted(self.installed):
            ip = self.installed[name]
            f = ip.pkg.fields
            lines = [f"{k}:{f[k]}" for k in FIELD_ORDER if f.get(k)]
            lines += [f"{k}:{v}" for k, v in f.items() if k not in FIELD_ORDER and v and k not in "FRaZM"]
            by_dir: dict[str, list[FileRecord]] = {d: [] for d in ip.dirs}
            for fr in ip.files:
                by_dir.setdefault(fr.path.rpartition("/")[0], []).append(fr)
            for d in sorted(by_dir):
                lines.append(f"F:{d}")
                for fr in by_dir[d]:
                    lines.append(f"R:{fr.path.rpartition('/')[2]}")
                    if fr.mode != 0o644:
                        lines.append(f"a:0:0:{fr.mode:o}")
                    if fr.checksum:
                        lines.append(f"Z:{fr.checksum}")
            records.append("\n".join(lines) + "\n\n")
        self.root.write_bytes(INSTALLED, "".join(records).encode())
        world = sorted(set(self.world), key=lambda w: (parse_dep(w).name, w))
        self.root.write_bytes(WORLD, "".join(w + "\n" for w in world).encode())
