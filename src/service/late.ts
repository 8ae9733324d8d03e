/**
 * A part of the composition root made after something that needs it once running (two parts that
 * report to each other): set once when made, and a read before that is a wiring error that names
 * what was missing, rather than a closure reaching forward to a name declared later.
 */
export interface Late<T> {
  get(): T;
  set(value: T): T;
}

export function late<T>(what: string): Late<T> {
  let value: { readonly made: T } | undefined;
  return {
    get: () => {
      if (value === undefined) throw new Error(`service wiring: ${what} asked for before it was made`);
      return value.made;
    },
    set: (made) => {
      value = { made };
      return made;
    },
  };
}
