// Nelder-Mead on the unit cube: a derivative-free minimiser for a handful of parameters.
// Chosen for calibration because each evaluation is a whole simulation (no gradients, and at
// most a few hundred affordable), the parameters are few, and with common random numbers the
// objective is deterministic, so the simplex does not chase noise. Approximate Bayesian
// computation would give posteriors but needs thousands of simulations for the same fit.
// The cube's bounds are kept by a change of variable, x = (1 - cos(pi y)) / 2, under which the
// simplex moves freely: clamping instead collapses it against a bound.

export interface NelderMeadOptions {
  maxEvaluations: number;
  /** Initial simplex edge, in unit-cube coordinates. */
  step?: number;
  /** Stop once the spread of the simplex's values falls below this. */
  tolerance?: number;
  /** Stop at once when the objective reaches this value. */
  goal?: number;
}

export interface NelderMeadResult {
  x: number[];
  value: number;
  evaluations: number;
}

const toCube = (y: number[]): number[] => y.map((v) => (1 - Math.cos(Math.PI * v)) / 2);
const fromCube = (x: number[]): number[] => x.map((v) => Math.acos(1 - 2 * Math.min(1, Math.max(0, v))) / Math.PI);

export async function nelderMead(f: (x: number[]) => Promise<number>, x0: number[], o: NelderMeadOptions): Promise<NelderMeadResult> {
  const d = x0.length;
  const step = o.step ?? 0.15;
  let evaluations = 0;
  const evaluate = async (y: number[]) => {
    evaluations++;
    return { y, v: await f(toCube(y)) };
  };
  const done = (v: number) => evaluations >= o.maxEvaluations || (o.goal !== undefined && v <= o.goal);

  let simplex = [await evaluate(fromCube(x0))];
  for (let k = 0; k < d && !done(simplex[0].v); k++) {
    const y = [...simplex[0].y];
    y[k] += y[k] + step <= 1 ? step : -step; // towards the middle of the cube
    simplex.push(await evaluate(y));
  }
  const toward = (a: number[], b: number[], t: number) => a.map((v, i) => v + t * (b[i] - v));

  while (simplex.length === d + 1) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0], worst = simplex[d];
    if (done(best.v) || worst.v - best.v < (o.tolerance ?? 1e-9)) break;
    const centroid = Array.from({ length: d }, (_, i) => simplex.slice(0, d).reduce((s, p) => s + p.y[i], 0) / d);
    const reflected = await evaluate(toward(centroid, worst.y, -1));
    if (reflected.v < best.v) {
      const expanded = done(reflected.v) ? reflected : await evaluate(toward(centroid, worst.y, -2));
      simplex[d] = expanded.v < reflected.v ? expanded : reflected;
    } else if (reflected.v < simplex[d - 1].v) {
      simplex[d] = reflected;
    } else {
      const contracted = await evaluate(toward(centroid, reflected.v < worst.v ? reflected.y : worst.y, 0.5));
      if (contracted.v < Math.min(worst.v, reflected.v)) {
        simplex[d] = contracted;
      } else {
        // Shrink towards the best point.
        const shrunk = [best];
        for (const p of simplex.slice(1)) {
          if (done(shrunk.reduce((m, q) => Math.min(m, q.v), Infinity))) break;
          shrunk.push(await evaluate(toward(best.y, p.y, 0.5)));
        }
        if (shrunk.length < d + 1) { simplex = [...shrunk, ...simplex.slice(shrunk.length)]; break; }
        simplex = shrunk;
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  return { x: toCube(simplex[0].y), value: simplex[0].v, evaluations };
}
