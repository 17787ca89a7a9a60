import { labUp } from '../lab.js';
const lab = await labUp({ home: '/tmp/alp/home', prefix: 'twlzq', online: 1, offline: 0, router: false });
try {
  const ssh = (h: string, cmd: string) => lab.execTc(['ssh', '-F', `${lab.home}/.ssh/config`, h, cmd]);
  for (const c of ['/bin/sh --help 2>&1 | head -1; for t in sh flock setsid od tar date mktemp stat timeout sleep sudo doas Xvnc wmctrl xrandr matchbox-window-manager xterm bash apk xclip cksum ls; do printf "%s=%s\\n" $t "$(command -v $t)"; done', 'ls -l $(command -v sudo)']) {
    const r = await ssh('on1', c);
    console.log('$', c, '\n', r.code, r.stdout, r.stderr);
  }
  console.log(await lab.execHost('on1', ['sh', '-c', 'echo $PATH; command -v ls'], { user: 'tower' }));
} finally { await lab.down(); }
