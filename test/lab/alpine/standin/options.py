"""apk 2.x's command line: `apk [options] APPLET [options] ARGS`. As in apk (getopt_long over the applet's
option groups plus the global ones), options may come before or after the applet name, long options take
`--opt VALUE` or `--opt=VALUE`, short ones `-X VALUE`, `-XVALUE` or clusters like `-qU`."""
from __future__ import annotations

from dataclasses import dataclass, field

APPLETS = ("add", "del", "upgrade", "update", "info")

# name -> (short, takes value, applets it belongs to ("" = global), destination)
OPTIONS: dict[str, tuple[str, bool, tuple[str, ...], str]] = {
    "root": ("p", True, ("",), "root"),
    "repository": ("X", True, ("",), "repositories"),
    "repositories-file": ("", True, ("",), "repositories_file"),
    "keys-dir": ("", True, ("",), "keys_dir"),
    "arch": ("", True, ("",), "arch"),
    "progress-fd": ("", True, ("",), "progress_fd"),
    "cache-max-age": ("", True, ("",), "cache_max_age"),
    "quiet": ("q", False, ("",), "quiet"),
    "verbose": ("v", False, ("",), "verbose"),
    "allow-untrusted": ("", False, ("",), "allow_untrusted"),
    "no-cache": ("", False, ("",), "no_cache"),
    "progress": ("", False, ("",), "progress"),
    "no-progress": ("", False, ("",), "no_progress"),
    "update-cache": ("U", False, ("",), "update_cache"),
    "force-refresh": ("", False, ("",), "force_refresh"),
    "no-network": ("", False, ("",), "no_network"),
    "no-interactive": ("", False, ("",), "ignored"),
    "help": ("h", False, ("",), "help"),
    "version": ("V", False, ("",), "version"),
    "print-arch": ("", False, ("",), "print_arch"),
    # commit options (add, del, upgrade): scripts never run here, so these change nothing
    "simulate": ("s", False, ("add", "del", "upgrade"), "simulate"),
    "no-scripts": ("", False, ("add", "del", "upgrade"), "ignored"),
    "no-commit-hooks": ("", False, ("add", "del", "upgrade"), "ignored"),
    "clean-protected": ("", False, ("add", "del", "upgrade"), "ignored"),
    "initdb": ("", False, ("add",), "initdb"),
    "upgrade": ("u", False, ("add",), "upgrade"),
    "latest": ("l", False, ("add", "upgrade"), "latest"),
    "no-chown": ("", False, ("add",), "ignored"),
    "rdepends": ("r", False, ("del",), "rdepends"),
    "no-self-upgrade": ("", False, ("upgrade",), "ignored"),
    "self-upgrade-only": ("", False, ("upgrade",), "self_upgrade_only"),
    "contents": ("L", False, ("info",), "contents"),
    "installed": ("e", False, ("info",), "installed"),
    "depends": ("R", False, ("info",), "depends"),
    "description": ("d", False, ("info",), "description"),
    "webpage": ("w", False, ("info",), "webpage"),
    "size": ("s", False, ("info",), "size"),
}

# Real apk options the stand-in refuses instead of silently ignoring (their effect would matter).
UNSUPPORTED = ("virtual", "t", "available", "a", "interactive", "i", "overlay-from-stdin", "wait", "cache-dir",
               "force", "f", "purge", "who-owns", "W", "triggers", "replaces", "all")


class UsageError(Exception):
    pass


@dataclass
class Options:
    applet: str = ""
    args: list[str] = field(default_factory=list)
    root: str | None = None
    repositories: list[str] = field(default_factory=list)
    repositories_file: str | None = None
    keys_dir: str | None = None
    arch: str | None = None
    progress_fd: int | None = None
    cache_max_age: int | None = None  # minutes
    verbosity: int = 1
    flags: set[str] = field(default_factory=set)

    def __getattr__(self, name: str) -> bool:  # boolean flags: opts.no_cache, opts.initdb, …
        if name.startswith("__"):
            raise AttributeError(name)
        return name in self.flags


def _set(o: Options, dest: str, value: str | None) -> None:
    if dest == "repositories":
        o.repositories.append(value or "")
    elif dest in ("progress_fd", "cache_max_age"):
        try:
            setattr(o, dest, int(value or ""))
        except ValueError:
            raise UsageError(f"invalid number '{value}' for --{dest.replace('_', '-')}") from None
    elif dest in ("root", "repositories_file", "keys_dir", "arch"):
        setattr(o, dest, value)
    elif dest == "quiet":
        o.verbosity -= 1
    elif dest == "verbose":
        o.verbosity += 1
    elif dest != "ignored":
        o.flags.add(dest)


def parse(argv: list[str]) -> Options:
    applet = next((a for a in argv if a in APPLETS), "")  # apk's deduce_applet: first word naming an applet
    allowed = {n: spec for n, spec in OPTIONS.items() if "" in spec[2] or applet in spec[2]}
    by_short = {spec[0]: (n, spec) for n, spec in allowed.items() if spec[0]}
    o = Options(applet=applet)
    seen_applet = False
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            o.args += argv[i:]
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if name in UNSUPPORTED and name not in allowed:
                raise UsageError(f"option --{name} is not supported by the Tower lab apk stand-in")
            if name not in allowed:
                raise UsageError(f"unrecognized option: {name}")
            _, takes, _, dest = allowed[name]
            if takes and not eq:
                if i >= len(argv):
                    raise UsageError(f"option requires an argument: {name}")
                value, i = argv[i], i + 1
            elif not takes and eq:
                raise UsageError(f"option '--{name}' doesn't allow an argument")
            _set(o, dest, value if takes else None)
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                j += 1
                if c not in by_short:
                    if c in UNSUPPORTED:
                        raise UsageError(f"option -{c} is not supported by the Tower lab apk stand-in")
                    raise UsageError(f"unrecognized option: {c}")
                _, (_, takes, _, dest) = by_short[c]
                if takes:
                    if j < len(a):
                        value, j = a[j:], len(a)
                    elif i < len(argv):
                        value, i = argv[i], i + 1
                    else:
                        raise UsageError(f"option requires an argument: {c}")
                    _set(o, dest, value)
                else:
                    _set(o, dest, None)
        elif not seen_applet and a == applet:
            seen_applet = True
        else:
            o.args.append(a)
    return o
