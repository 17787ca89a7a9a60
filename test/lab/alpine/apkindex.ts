// APKINDEX.tar.gz: [signature member over the rest] + one gzip member holding a whole tarball with
// DESCRIPTION and APKINDEX. APKINDEX is one record per package, "X:value" lines in the order `apk index`
// writes them, each record ended by a blank line.
import { gzipSync } from 'node:zlib';
import { signatureMember, type SigningKey } from './sign.js';
import { tarBlocks } from './tar.js';
import type { PackageSpec } from './types.js';

export interface IndexRecord {
  spec: PackageSpec;
  arch: string;
  checksum: string;
  size: number;
  installedSize: number;
  buildTime: number;
}

export function indexRecord(r: IndexRecord): string {
  const s = r.spec;
  const lines = [
    `C:${r.checksum}`,
    `P:${s.name}`,
    `V:${s.version}`,
    `A:${s.arch ?? r.arch}`,
    `S:${r.size}`,
    `I:${r.installedSize}`,
    `T:${s.description ?? `${s.name} (Tower lab package)`}`,
    `U:${s.url ?? 'https://example.invalid/tower-lab'}`,
    `L:${s.license ?? 'MIT'}`,
    `o:${s.origin ?? s.name}`,
    `m:${s.maintainer ?? 'Tower lab <lab@example.invalid>'}`,
    `t:${r.buildTime}`,
  ];
  if (s.depends?.length) lines.push(`D:${s.depends.join(' ')}`);
  if (s.provides?.length) lines.push(`p:${s.provides.join(' ')}`);
  return `${lines.join('\n')}\n\n`;
}

export interface BuiltIndex {
  buffer: Buffer;
  text: string;
  /** Byte ranges of the gzip members (for tests that tamper with one). */
  members: { signature?: [number, number]; body: [number, number] };
}

export function buildIndex(records: readonly IndexRecord[], o: { description: string; buildTime: number; key?: SigningKey }): BuiltIndex {
  const text = records.map(indexRecord).join('');
  const tar = tarBlocks(
    [
      { name: 'DESCRIPTION', type: 'file', mode: 0o644, mtime: o.buildTime, content: Buffer.from(o.description) },
      { name: 'APKINDEX', type: 'file', mode: 0o644, mtime: o.buildTime, content: Buffer.from(text) },
    ],
    { eof: true },
  );
  const body = gzipSync(tar, { level: 9 });
  const signature = o.key ? signatureMember(o.key, body, o.buildTime) : undefined;
  const sigLen = signature?.length ?? 0;
  return {
    buffer: signature ? Buffer.concat([signature, body]) : body,
    text,
    members: { ...(signature ? { signature: [0, sigLen] as [number, number] } : {}), body: [sigLen, sigLen + body.length] },
  };
}
