// Ready-made packages: `hello` (a script, a .desktop file for Tower's menu import) depending on `libhello`,
// and `bigdata`, incompressible bytes of a chosen size for relay throughput benchmarks.
import { createCipheriv, createHash } from 'node:crypto';
import type { PackageSpec } from './types.js';

/** [libhello, hello] at `version`; hello prints its version, so a test can tell an upgrade happened. */
export function helloPackages(version = '1.0-r0'): PackageSpec[] {
  return [
    {
      name: 'libhello',
      version,
      description: 'Greeting library for the Tower lab',
      files: { '/usr/lib/libhello.so.1': `libhello ${version}\n` },
    },
    {
      name: 'hello',
      version,
      description: 'Prints a greeting (Tower lab package)',
      depends: ['libhello'],
      provides: [`cmd:hello=${version}`],
      files: {
        '/usr/bin/hello': `#!/bin/sh\necho "hello ${version}"\n`,
        '/usr/share/applications/hello.desktop': '[Desktop Entry]\nType=Application\nName=Hello\nExec=hello\nCategories=Utility;\n',
      },
    },
  ];
}

/**
 * `bigdata` with one file of `bytes` pseudo-random bytes (AES-CTR keystream from `seed`): incompressible, so
 * the .apk is about as big as the payload, and deterministic, so rebuilds give the same checksums.
 */
export function bigdataPackage(bytes = 20 * 1024 * 1024, version = '1.0-r0', seed = 'tower-lab'): PackageSpec {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const payload = Buffer.concat([cipher.update(Buffer.alloc(bytes)), cipher.final()]);
  return {
    name: 'bigdata',
    version,
    description: `${bytes} incompressible bytes for throughput tests`,
    files: { '/usr/share/bigdata/blob.bin': payload },
  };
}
