// Bind groups, reused between calls. attention() and encode() take their scratch from pools that
// hand the same buffers back for a repeated shape, and uniform blocks are found by content, so a
// repeated call finds every bind group it needs here.
// Keyed by the pipeline and then by each bound buffer, in nested WeakMaps: a group stays cached only
// while its pipeline and every buffer it binds are referenced elsewhere (our pools' buffers, or the
// caller's in encode()). So the cache never keeps alive a buffer the caller dropped without
// destroy(), nor, through the group, its GPU memory; and a buffer our pools retire takes its groups along.

interface Node {
  /** The next bound buffer's nodes. */
  next: WeakMap<object, Node>;
  /** Groups whose buffers are the path to this node, by their binding numbers. */
  groups?: Map<string, GPUBindGroup>;
}

export class BindGroupCache {
  private root = new WeakMap<GPUComputePipeline, Node>();
  private layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  /** Bind groups created (for tests: a repeated call must create none). */
  created = 0;

  constructor(private readonly device: GPUDevice) {}

  get(pipeline: GPUComputePipeline, bindings: [number, GPUBuffer][], label: string): GPUBindGroup {
    let node: Node | undefined = this.root.get(pipeline);
    if (!node) this.root.set(pipeline, (node = { next: new WeakMap() }));
    for (const [, buffer] of bindings) {
      let next: Node | undefined = node.next.get(buffer);
      if (!next) node.next.set(buffer, (next = { next: new WeakMap() }));
      node = next;
    }
    const numbers = bindings.map(([binding]) => binding).join(',');
    let group = node.groups?.get(numbers);
    if (group) return group;
    let layout = this.layouts.get(pipeline);
    if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
    group = this.device.createBindGroup({
      layout,
      entries: bindings.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
      label,
    });
    this.created++;
    (node.groups ??= new Map()).set(numbers, group);
    return group;
  }

  clear(): void {
    this.root = new WeakMap();
  }
}
