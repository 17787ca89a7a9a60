import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Integration tests run the built towerd and towerctl, exactly what users run: build them once first. */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: resolve(import.meta.dirname, '../..'), stdio: 'inherit' });
}
