/**
 * TEST SEAM, inert unless the environment variable TOWER_TEST_CRASH_AT names `point`: towerd then kills itself with
 * SIGKILL there, as a power cut would. The points: a key rotation's steps right after each is journaled (`staged`,
 * `added`, `proven`, `installed`, `removed`; test/integration/rotate-key.test.ts) and `wlan-restarted`, right after
 * the router's Wi-Fi was restarted on new settings (test/integration/wlan.test.ts).
 */
export function testCrashSeam(point: string): void {
  if (process.env.TOWER_TEST_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
