// Entry point of the towerctl binary.
import { main } from './towerctl.js';

void main(process.argv);
