import { labUp } from '../lab.js';
const t0 = Date.now();
const lab = await labUp({ home: '/tmp/alp/home', prefix: 'twlzq', online: 1, offline: 1 });
console.log('up ms', Date.now() - t0);
try {
  const ssh = (h: string, cmd: string) => lab.execTc(['ssh', '-F', `${lab.home}/.ssh/config`, h, cmd]);
  for (const c of ['echo $0; readlink -f /bin/sh; echo $PATH', 'ls -l /proc/$$/exe; command -v flock setsid od tar date mktemp stat timeout sleep sudo doas Xvnc wmctrl xrandr matchbox-window-manager xterm bash apk', 'sudo id -un; doas id -un; sudo env FOO=1 sh -c "echo \\$FOO \\$PATH"', 'sleep 0.025 && echo fsleep; [ -O /tmp ] ; echo O=$?; od -An -N4 -tx1 /dev/urandom; stat -c %a /tmp; date +%s; mktemp -d', 'cat /run/alpine/etc/apk/world; apk info 2>&1 | head -3', 'bash -c true; echo bash=$?']) {
    const r = await ssh('on1', c);
    console.log('$', c, '\n', r.code, r.stdout, r.stderr);
  }
  const r = await lab.execHost('on1', ['sh', '-c', 'echo $PATH; command -v ls'], { user: 'tower' });
  console.log(r);
} finally { await lab.down(); }
