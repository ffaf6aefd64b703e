// Bind groups, reused between calls. attention() and encode() take their scratch from pools that
// hand the same buffers back for a repeated shape, and uniform blocks are found by content, so a
// repeated call finds every bind group it needs here.
// Keyed by the pipeline and the identity of each bound buffer; bounded, least recently used first.

const ids = new WeakMap<object, number>();
let nextId = 1;

/** A number per object, for cache keys (WeakMap: ids never keep an object alive). */
function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}

export class BindGroupCache {
  private groups = new Map<string, GPUBindGroup>();
  private layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  /** Bind groups created (for tests: a repeated call must create none). */
  created = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity = 256,
  ) {}

  get(pipeline: GPUComputePipeline, bindings: [number, GPUBuffer][], label: string): GPUBindGroup {
    let key = String(idOf(pipeline));
    for (const [binding, buffer] of bindings) key += `,${binding}:${idOf(buffer)}`;
    let group = this.groups.get(key);
    if (group) {
      this.groups.delete(key); // re-insert: most recently used last
      this.groups.set(key, group);
      return group;
    }
    let layout = this.layouts.get(pipeline);
    if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
    group = this.device.createBindGroup({
      layout,
      entries: bindings.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
      label,
    });
    this.created++;
    this.groups.set(key, group);
    if (this.groups.size > this.capacity) this.groups.delete(this.groups.keys().next().value!);
    return group;
  }

  /** Drops every bind group that binds `buffer` (called when the pool destroys it). */
  forget(buffer: GPUBuffer): void {
    const id = ids.get(buffer);
    if (id === undefined) return;
    const needle = `:${id}`;
    for (const key of this.groups.keys()) {
      if (key.split(',').some((part) => part.endsWith(needle))) this.groups.delete(key);
    }
  }

  clear(): void {
    this.groups.clear();
  }
}
