/** The `stream` suite's tasks: the values 0..n-1 from an async generator, a sync one, or in one array. */
export async function* values(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

export function* valuesSync(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

export function all(n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
