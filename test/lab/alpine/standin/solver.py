"""Which packages the world needs. A much smaller solver than apk's: depth-first from the world, one
package per name, an installed package kept when it still satisfies the dependency (unless upgrading),
otherwise the highest satisfying version (earlier repository wins a tie). Provides (`p:`) are honoured;
`!name` conflicts are checked; install_if, replaces and provider priorities are not."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

from .output import Out
from .repos import Package, Repository
from .version import Dep, compare, parse_dep


@dataclass
class Problem:
    dep: Dep
    required_by: str
    reason: str  # "no such package", "conflicts: …", …


@dataclass
class Solution:
    selected: dict[str, Package] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # dependencies before dependants
    problems: list[Problem] = field(default_factory=list)


def _provided_version(pkg: Package, name: str) -> str | None:
    """The version under which pkg satisfies `name`: its own, a versioned provide's, or "" if unversioned."""
    if pkg.name == name:
        return pkg.version
    for p in pkg.provides:
        pname, _, pver = p.partition("=")
        if pname == name:
            return pver
    return None


def satisfies(pkg: Package, dep: Dep) -> bool:
    v = _provided_version(pkg, dep.name)
    if v is None:
        return False
    if not dep.op:
        return True
    return bool(v) and dep.accepts(v)


def solve(world: list[str], repos: list[Repository], installed: dict[str, Package],
          upgrade: Callable[[str], bool]) -> Solution:
    """upgrade(name): whether an installed package of that name should move to the best available version."""
    sol = Solution()
    available = [p for r in repos if r.ok for p in r.packages]
    conflicts: list[tuple[Dep, str]] = []
    visiting: set[str] = set()

    def candidates(dep: Dep) -> list[Package]:
        out = []
        for p in available:
            tag = p.repo.tag if p.repo else ""
            if tag and tag != dep.tag:
                continue
            if satisfies(p, dep):
                out.append(p)
        return out

    def best(cands: list[Package]) -> Package:
        top = cands[0]
        for c in cands[1:]:
            if compare(c.version, top.version) > 0:
                top = c
        return top

    def need(dep: Dep, required_by: str) -> None:
        if dep.conflict:
            conflicts.append((dep, required_by))
            return
        chosen = next((p for p in sol.selected.values() if satisfies(p, dep)), None)
        if chosen is None:
            inst = next((p for p in installed.values() if satisfies(p, dep)), None)
            cands = candidates(dep)
            if inst is not None and not upgrade(inst.name):
                chosen = inst
            elif cands:
                chosen = best(cands + ([inst] if inst else []))
            elif inst is not None:
                chosen = inst  # no longer in any repository: apk keeps it
            else:
                known = any(_provided_version(p, dep.name) is not None for p in available)
                sol.problems.append(Problem(dep, required_by, "no matching version" if known else "no such package"))
                return
            if chosen.name in sol.selected:
                other = sol.selected[chosen.name]
                sol.problems.append(Problem(dep, required_by, f"breaks: {other.label()} already selected"))
                return
            sol.selected[chosen.name] = chosen
        if chosen.name in visiting or chosen.name in sol.order:
            return
        visiting.add(chosen.name)
        for d in chosen.depends:
            try:
                need(parse_dep(d), chosen.label())
            except ValueError:
                sol.problems.append(Problem(Dep(d), chosen.label(), "invalid dependency"))
        visiting.discard(chosen.name)
        sol.order.append(chosen.name)

    for w in world:
        need(parse_dep(w), "world")
    for dep, by in conflicts:
        hit = next((p for p in sol.selected.values() if _provided_version(p, dep.name) is not None), None)
        if hit is not None:
            sol.problems.append(Problem(dep, by, f"conflicts: {hit.label()}"))
    return sol


def print_problems(out: "Out", problems: list[Problem]) -> None:
    """apk's "unable to select packages" report (simplified)."""
    out.error("unable to select packages:")
    for p in problems:
        sys.stderr.write(f"  {p.dep.name} ({p.reason}):\n    required by: {p.required_by}[{p.dep}]\n")
    sys.stderr.flush()
