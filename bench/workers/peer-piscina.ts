/** piscina's worker format: a module whose default export is the task function. */
import { add, type AddTask } from './peer-task.js';

export default function addTask({ a, b }: AddTask): number {
  return add(a, b);
}
