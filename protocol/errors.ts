/** JSON-RPC 2.0 error codes: the spec's, then Tower's own in the server-error range. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** the frame exceeded the size limit; the connection is closed after this reply */
  FrameTooLarge: -32000,
  /** the reply would exceed the frame limit; the request may have run, the connection stays open */
  ReplyTooLarge: -32099,
  HostNotFound: -32001,
  HostExists: -32002,
  NetworkFull: -32003,
  RegistryInvalid: -32004,
  InvalidKey: -32005,
  AddressInUse: -32006,
  FileSystem: -32007,
  /** towerd runs without host supervision */
  NotSupervised: -32008,
  /** the host is not connected right now */
  HostUnavailable: -32009,
  ForwardNotFound: -32010,
  /** a listener could not be opened (address in use, permission) */
  ListenFailed: -32011,
  /** provisioning refused the target: mounted, the system disk, a partition, not a (removable) block device, in use */
  TargetRefused: -32012,
  /** the host image cannot be read or has no FAT boot partition */
  ImageInvalid: -32013,
  /** writing, verifying or preparing the boot partition failed; the host was removed again */
  ProvisionFailed: -32014,
  /** the host is in use (apps run there) and the operation would end them */
  HostBusy: -32015,
  /** the host's folder lacks what a reinstall keeps (its host keys, LUKS key file, tower.env) */
  IdentityMissing: -32016,
  /** no running app with that id */
  AppNotFound: -32020,
  /** the app or its viewer could not be started */
  AppFailed: -32021,
  /** the host's clipboard mode is off */
  ClipboardOff: -32030,
  /** the clipboard content was refused: over the size cap, not UTF-8 text, or empty */
  ClipboardRefused: -32031,
  /** the host has no app display to take the clipboard from or give it to */
  NoDisplay: -32032,
  /** the thin client's Wayland clipboard cannot be reached (no session known, wl-copy/wl-paste failed) */
  WaylandUnavailable: -32033,
  /** a command towerd needs on the host is not there (the privilege command apk runs under) */
  CommandMissing: -32040,
  /** a file transfer was refused: the policy, an entry that failed the checks, a question that could not be asked */
  FilesRefused: -32050,
  /** a file transfer failed on the way (a tar on an end, a lost connection); the target keeps nothing of it */
  FilesFailed: -32051,
  /** no transfer waiting for an answer with that id */
  TransferNotFound: -32052,
  /** a key rotation could not be finished; the host still accepts the key towerd uses (the message says which) */
  KeyRotationFailed: -32053,
  /** the router's Wi-Fi settings could not be written or its Wi-Fi not restarted (before any uplink check) */
  WlanFailed: -32054,
  /** the host has no backup set of that name (towerd.json backup.sets) */
  NoBackupSet: -32055,
  /** the set's repository key is not on this thin client (no backup has run yet) */
  NoBackupKey: -32056,
  /** restic failed, or the snapshot asked for is not in the repository */
  BackupFailed: -32057,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** Exit codes of towerctl, also documented in its --help and the README. */
export const ExitCode = {
  Ok: 0,
  /** the daemon refused or failed the request */
  Failure: 1,
  /** bad command line */
  Usage: 2,
  /** towerd is not running or its socket cannot be reached */
  DaemonUnreachable: 3,
  /** a host could not be reached or a remote operation failed */
  RemoteFailure: 4,
  /** interrupted by the user (SIGINT) */
  Interrupted: 130,
} as const;
