// A mechanism's per-citizen state: the columns it declares in its own file, each with its
// element type, its value on day 0 and the range a checkpoint may restore it within.
// model/regime.ts lists the regime's, population.ts allocates them, the Citizens type is made
// of them (world.ts) and checkpoints save them (checkpoint-state.ts).
import type { Scenario } from "../scenario/schema.js";
import type { Valid } from "../engine/checkpoint.js";
import type { NumericArray, TypedArrayOf } from "../engine/columns.js";
import type { IdentityColumns } from "./world.js";

/** What the scenario and seed built: what a state column starts from. */
export interface Built {
  s: Scenario;
  c: IdentityColumns;
}

/** What a restored state value is checked against: the world rebuilt from the seed, and the day the checkpoint resumes with. */
export interface Rebuilt extends Built {
  nextDay: number;
}

export interface StateColumn<T extends NumericArray> {
  type: TypedArrayOf<T>;
  /** Its value on day 0 if not 0: the same for everyone, or a column the population was built with. */
  initial?: (built: Built) => number | ArrayLike<number>;
  /** What a value restored from a checkpoint must be. */
  valid: (rebuilt: Rebuilt) => Valid;
}

/** A state column of the given element type (the rest of the declaration typed from it). */
export const stateColumn = <T extends NumericArray>(type: TypedArrayOf<T>, rest: Omit<StateColumn<T>, "type">): StateColumn<T> => ({ type, ...rest });

/** The arrays a set of declarations stands for, by name (Citizens is made of these). */
export type ColumnArrays<D> = { [K in keyof D]: D[K] extends StateColumn<infer T> ? T : never };

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Several mechanisms' columns as one set, in order; a name declared twice would make two mechanisms share an array unawares, so it is refused. */
export function allColumns<T extends Record<string, StateColumn<NumericArray>>[]>(...sets: T): UnionToIntersection<T[number]> {
  const out: Record<string, StateColumn<NumericArray>> = {};
  for (const set of sets) {
    for (const [name, column] of Object.entries(set)) {
      if (Object.hasOwn(out, name)) throw new Error(`state column ${name} is declared by two mechanisms`);
      out[name] = column;
    }
  }
  return out as UnionToIntersection<T[number]>;
}
