// known_hosts parsing and editing live in daemon/shared/ (towerctl's state export selects Tower's lines with it).
export * from '../../shared/knownhosts.js';
