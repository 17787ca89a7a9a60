import * as z from 'zod/mini';

/** A terminal to allocate on the host for a streamed command (exec.run, packages.run). */
export const PtyRequest = z.strictObject({
  rows: z.int().check(z.gte(1), z.lte(1000)),
  cols: z.int().check(z.gte(1), z.lte(1000)),
  term: z.string().check(z.regex(/^[A-Za-z0-9._+-]{1,64}$/, 'a terminal name such as xterm-256color')),
});
export type PtyRequest = z.infer<typeof PtyRequest>;
