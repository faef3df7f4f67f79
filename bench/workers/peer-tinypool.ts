/** tinypool's worker format (the same as piscina's): a module whose default export is the task function. */
import { add, type AddTask } from './peer-task.js';

export default function addTask({ a, b }: AddTask): number {
  return add(a, b);
}
