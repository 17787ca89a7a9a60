/** The release of towerd and towerctl; a unit test keeps it equal to package.json's version. */
export const TOWER_VERSION = '0.1.0';
