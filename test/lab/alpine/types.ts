// Shapes shared by the repository builder, its callers and the tests.

/** A file's content, or content plus mode. Without a mode: 0755 under a bin/ or sbin/ directory, else 0644. */
export type FileSpec = string | Buffer | { content: string | Buffer; mode: number };

export interface PackageSpec {
  name: string;
  /** An apk version: `1.0-r0`, `2.3.1_rc2-r4`, … */
  version: string;
  description?: string;
  /** Default: the repository's arch. */
  arch?: string;
  /** apk dependency strings as in APKINDEX `D:` (`libhello`, `libhello>=1.0`, `so:libc.musl-x86_64.so.1`). */
  depends?: string[];
  /** APKINDEX `p:` entries (`cmd:hello=1.0-r0`). */
  provides?: string[];
  url?: string;
  license?: string;
  origin?: string;
  maintainer?: string;
  /** Absolute paths as installed (`/usr/bin/hello`). */
  files: Record<string, FileSpec>;
}

export interface BuiltPackage {
  name: string;
  version: string;
  arch: string;
  /** `<name>-<version>.apk` */
  fileName: string;
  /** Absolute path on disk. */
  path: string;
  /** Path below the server root, as requested over HTTP: `v3.19/main/x86_64/hello-1.0-r0.apk`. */
  urlPath: string;
  /** Package file size (APKINDEX `S:`). */
  size: number;
  /** Sum of the data files (APKINDEX `I:`, PKGINFO `size`). */
  installedSize: number;
  /** APKINDEX `C:`: "Q1" + base64(sha1 of the control gzip member). */
  checksum: string;
  /** PKGINFO `datahash`: hex sha256 of the data gzip member. */
  datahash: string;
  /** Byte ranges of the gzip members in the file (for tests that tamper with one). */
  members: { signature?: [number, number]; control: [number, number]; data: [number, number] };
  depends: string[];
}

export interface BuiltRepo {
  /** Server root the repository was written under. */
  dir: string;
  branch: string;
  repo: string;
  arch: string;
  /** `v3.19/main`: append to the server's base URL to get an apk repository URL. */
  repoPath: string;
  /** Absolute path of APKINDEX.tar.gz. */
  indexPath: string;
  indexSize: number;
  /** Byte ranges of the index's gzip members. */
  indexMembers: { signature?: [number, number]; body: [number, number] };
  /** The APKINDEX text inside it. */
  indexText: string;
  packages: BuiltPackage[];
  /** Every file written, relative to dir. */
  files: string[];
  /** Name of the key under /etc/apk/keys that signed index and packages; null when unsigned. */
  keyName: string | null;
}
