/** poolifier's worker format: a module that builds a `ThreadWorker` around the task function. */
import { ThreadWorker } from 'poolifier';
import { add, type AddTask } from './peer-task.js';

// poolifier's TaskFunction types its argument as optional (`data?: Data`)
export default new ThreadWorker<AddTask, number>((task) => add(task!.a, task!.b));
