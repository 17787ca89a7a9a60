/**
 * Registry order, wherever hosts are listed (towerd's host.list, the bar, tables): the router first, then by name.
 * The router is the host named `router`, and only it has the router role.
 */
export function compareHosts(a: { name: string }, b: { name: string }): number {
  if (a.name === 'router') return b.name === 'router' ? 0 : -1;
  if (b.name === 'router') return 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
