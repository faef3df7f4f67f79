/** workerpool's worker format: `workerpool.worker({ method })`; the pool calls `exec('add', [a, b])`. */
import workerpool from 'workerpool';
import { add } from './peer-task.js';

workerpool.worker({ add });
