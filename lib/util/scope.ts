// Disposes the intermediate tensors (and other native objects) of a computation together, so native memory returns to the
// pool at once instead of waiting for the garbage collector.
interface Disposable {
  dispose(): void;
}

export class Scope {
  #tensors: Disposable[] = [];

  /** Tracks `t` for disposal and returns it. */
  add<T extends Disposable>(t: T): T {
    this.#tensors.push(t);
    return t;
  }

  /** Stops tracking `t` (it outlives the scope) and returns it. */
  keep<T extends Disposable>(t: T): T {
    const i = this.#tensors.lastIndexOf(t);
    if (i >= 0) this.#tensors.splice(i, 1);
    return t;
  }

  dispose(): void {
    for (const t of this.#tensors) t.dispose();
    this.#tensors = [];
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
