/** The CPU-bound task of the cpu-speedup suite, in piscina's worker format (weft runs it unchanged). */
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default function fibTask(n: number): number {
  return fib(n);
}
