"""apk version ordering and dependency strings.

Versions compare token by token the way apk-tools' version.c does: numbers numerically (a component with
leading zeros compares as a fraction), then an optional letter, then suffixes where _alpha < _beta < _pre <
_rc < (none) < _cvs < _svn < _git < _hg < _p, then the -rN revision. So 1.0-r0 < 1.0-r1 < 1.0.1 < 1.1_rc1 < 1.1.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")

# Token kinds, ordered as apk orders them: when one version runs out of tokens the kinds decide.
DIGIT_OR_ZERO, DIGIT, LETTER, SUFFIX, SUFFIX_NO, REVISION_NO, END, INVALID = range(8)


def _next_kind(kind: int, s: str, i: int) -> tuple[int, int]:
    """The kind of the token starting at s[i] (after a separator), and the index where its value starts."""
    if i >= len(s):
        return END, i
    c = s[i]
    if kind in (DIGIT, DIGIT_OR_ZERO) and c.islower():
        return LETTER, i
    if kind == LETTER and c.isdigit():
        return DIGIT, i
    if kind == SUFFIX and c.isdigit():
        return SUFFIX_NO, i
    if c == ".":
        n = DIGIT_OR_ZERO
    elif c == "_":
        n = SUFFIX
    elif c == "-" and s[i + 1:i + 2] == "r":
        return (REVISION_NO if kind < REVISION_NO else INVALID), i + 2
    else:
        return INVALID, i
    if n < kind and not ((n == DIGIT_OR_ZERO and kind == DIGIT) or (n == SUFFIX and kind == SUFFIX_NO)
                         or (n == DIGIT and kind == LETTER)):
        n = INVALID
    return n, i + 1


def _tokens(v: str) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    kind, i = DIGIT, 0
    while kind not in (END, INVALID):
        j = i
        if kind == DIGIT_OR_ZERO and s_at(v, i) == "0":
            while j < len(v) and v[j] == "0":
                j += 1
            value: float = -(j - i)  # leading zeros: "1.01" < "1.1", as in apk
            kind = DIGIT
        elif kind in (DIGIT, DIGIT_OR_ZERO, SUFFIX_NO, REVISION_NO):
            while j < len(v) and v[j].isdigit():
                j += 1
            if j == i:  # a number is required here ("1..0", "1.0-r")
                out.append((INVALID, 0))
                return out
            value = int(v[i:j])
        elif kind == LETTER:
            value, j = ord(v[i]), i + 1
        elif kind == SUFFIX:
            m = re.match(r"[a-z]+", v[i:])
            word = m.group(0) if m else ""
            if word in PRE_SUFFIXES:
                value = PRE_SUFFIXES.index(word) - len(PRE_SUFFIXES)  # negative: sorts before no suffix
            elif word in POST_SUFFIXES:
                value = POST_SUFFIXES.index(word)
            else:
                out.append((INVALID, 0))
                return out
            j = i + len(word)
        else:
            out.append((INVALID, 0))
            return out
        out.append((kind, value))
        kind, i = _next_kind(kind, v, j)
    out.append((kind, 0))
    return out


def s_at(s: str, i: int) -> str:
    return s[i] if i < len(s) else ""


def valid(v: str) -> bool:
    return v[:1].isdigit() and _tokens(v)[-1][0] == END


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 like apk_version_compare."""
    ta, tb = _tokens(a), _tokens(b)
    for (ka, va), (kb, vb) in zip(ta, tb):
        if ka != kb:
            # One side has more components: a pre-release suffix makes it older, anything else newer.
            if ka == SUFFIX and va < 0:
                return -1
            if kb == SUFFIX and vb < 0:
                return 1
            return -1 if ka > kb else 1
        if va != vb:
            return -1 if va < vb else 1
        if ka in (END, INVALID):
            return 0
    return 0


@dataclass(frozen=True)
class Dep:
    """One dependency: `[!]name[@tag][op version]`."""

    name: str
    op: str = ""
    version: str = ""
    tag: str = ""
    conflict: bool = False

    def __str__(self) -> str:
        return f"{'!' if self.conflict else ''}{self.name}{'@' + self.tag if self.tag else ''}{self.op}{self.version}"

    def accepts(self, version: str) -> bool:
        if not self.op:
            return True
        if self.op == "~":
            return version == self.version or (version.startswith(self.version)
                                               and version[len(self.version)] in ".-_abcdefghijklmnopqrstuvwxyz")
        c = compare(version, self.version)
        return {"=": c == 0, "<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[self.op]


_DEP = re.compile(r"^(!)?([^@<>=~!\s]+)(?:@([^<>=~\s]+))?(?:(<=|>=|=~|<|>|=|~)(.+))?$")


def parse_dep(text: str) -> Dep:
    m = _DEP.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a valid dependency")
    op = "~" if m.group(4) == "=~" else (m.group(4) or "")
    return Dep(name=m.group(2), op=op, version=m.group(5) or "", tag=m.group(3) or "", conflict=bool(m.group(1)))
