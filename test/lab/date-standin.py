#!/usr/bin/python3
# The lab's `date` on every host (bind-mounted over /usr/bin/date, and the `date` applet link on the Alpine-like
# PATH): lab hosts share the machine's kernel clock, so setting a host's clock must never reach settimeofday.
# `date -s` here moves the host's faked clock instead: it writes the offset libfaketime reads
# (/run/lab/faketime, FAKETIME_TIMESTAMP_FILE of the host's sessions once clock.ts fakeClock() has run).
# On the interface Tower uses it answers as busybox's date does: `date [-u] -s @SECONDS` or
# `date [-u] -s 'YYYY-MM-DD hh:mm[:ss]'`; as root it sets, prints the new time and exits 0; as another user it
# prints "date: can't set date: Operation not permitted", then the time, and still exits 0 (as busybox does);
# an unreadable time is "date: invalid date '…'" and exit 1. Every other use is busybox's date itself.
import calendar
import os
import re
import sys
import time

FAKE_FILE = '/run/lab/faketime'
args = sys.argv[1:]

# A process under libfaketime sees the faked clock; the offset must be computed against the real one.
if 'faketime' in os.environ.get('LD_PRELOAD', ''):
    env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD' and not k.startswith('FAKETIME')}
    os.execve(sys.executable, [sys.executable, __file__, *args], env)

utc = False
setting = None
rest = []
i = 0
while i < len(args):
    a = args[i]
    if a == '-u':
        utc = True
    elif a == '-s' and i + 1 < len(args):
        setting = args[i + 1]
        i += 1
    elif a.startswith('-s') and len(a) > 2:
        setting = a[2:]
    elif a in ('-us', '-su') and i + 1 < len(args):
        utc = True
        setting = args[i + 1]
        i += 1
    else:
        rest.append(a)
    i += 1

if setting is None or rest:
    os.execv('/bin/busybox', ['date', *args])

if utc:
    os.environ['TZ'] = 'UTC0'
    time.tzset()

target = None
m = re.fullmatch(r'@([0-9]{1,12})', setting)
if m:
    target = int(m.group(1))
else:
    m = re.fullmatch(r'([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?', setting)
    if m:
        fields = (int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)), int(m.group(6) or 0), 0, 0, -1)
        try:
            target = calendar.timegm(fields) if utc else int(time.mktime(fields))
        except (OverflowError, ValueError):
            target = None
if target is None:
    sys.stderr.write(f"date: invalid date '{setting}'\n")
    sys.exit(1)

if os.geteuid() != 0:
    sys.stderr.write("date: can't set date: Operation not permitted\n")
else:
    # the offset from the real clock at this moment; busybox sets whole seconds (no fraction)
    offset = target - time.time()
    tmp = f'{FAKE_FILE}.{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(f'{offset:+.6f}\n')
    os.chmod(tmp, 0o644)
    os.rename(tmp, FAKE_FILE)

shown = time.gmtime(target) if utc else time.localtime(target)
print(time.strftime('%a %b %e %H:%M:%S ' + ('UTC' if utc else '%Z') + ' %Y', shown))
