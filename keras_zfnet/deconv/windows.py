"""The engine's one geometry: receptive fields, the windows a backward pass
runs on, and the cost model that chooses between them.

A single seed activation reaches only its receptive field in every lower
map, so for `mode="max"` projections the backward can run on a fixed-size
window per node (the seed's receptive field there), placed at a per-item
offset, instead of whole maps: same result, less work. A window starts at
`position * jump + offset` on each axis. Where the receptive field would
cover a node's whole map (a deep seed over a small image), that node and
every node below it run on whole maps instead: they are smaller than the
windows there and need no per-item gathers (MiniZFNet conv5, 64 channels on
JAX: 28-37 -> 22-25 ms in alternating processes).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Windows:
    """Per spatial node: `offsets[id]`, `sizes[id]`, `jumps[id]` (rows,
    cols). `windowed` is False for whole maps (offsets 0, sizes the maps).
    `cost`: multiply-adds of the backward per item. `whole`: the nodes of
    a windowed pass that run on whole maps (a node whose window would
    cover its map, and every node below it), with offsets and jumps 0."""

    offsets: dict
    sizes: dict
    jumps: dict
    windowed: bool
    cost: float
    whole: frozenset = frozenset()

    def windowed_at(self, node_id):
        """Whether `node_id` runs on a per-item window (not its whole
        map)."""
        return self.windowed and node_id not in self.whole


def _area(size):
    return size[0] * size[1] if size else 1


def node_cost(node, size):
    if node.rule is None:
        return 0
    if size is None and len(node.output_shape) == 3:
        size = node.output_shape[:2]
    return node.rule.cost(_area(size))


def full_windows(graph, seed_id):
    """Whole-map windows for the backward from `seed_id`."""
    ids = graph.ancestors(seed_id)
    sizes = {i: tuple(graph.nodes[i].output_shape[:2]) for i in ids
             if len(graph.nodes[i].output_shape) == 3}
    offsets = {i: (0, 0) for i in sizes}
    cost = sum(node_cost(graph.nodes[i], sizes.get(i)) for i in ids)
    return Windows(offsets, sizes, dict(offsets), False, cost)


def signal_floats(graph, seed_id, windows):
    """Floats of one item's mirror signals: each node's window (or whole
    output) times its channels, summed over the nodes below the seed."""
    total = 0
    for i in graph.ancestors(seed_id):
        shape = graph.nodes[i].output_shape
        if len(shape) == 3:
            rows, cols = windows.sizes.get(i, shape[:2])
            total += rows * cols * shape[-1]
        else:
            count = 1
            for d in shape:
                count *= d or 1
            total += count
    return total


def receptive_windows(graph, seed_id):
    """Receptive-field windows of one seed position of `seed_id`, or None
    when a node below the seed is not local (dense, global pooling, a
    layer differentiated whole), two paths disagree on the stride, or the
    seed's own window covers its map (a 1 x 1 map: whole maps are the same
    pass)."""
    ids = graph.ancestors(seed_id)
    if any(not graph.nodes[i].spatial for i in ids):
        return None
    offsets, ends, jumps = {seed_id: (0, 0)}, {seed_id: (1, 1)}, {
        seed_id: (1, 1)}
    for i in reversed(ids):
        node = graph.nodes[i]
        if node.layer is None:
            continue
        for m in node.inputs:
            jump, start, end = [], [], []
            for axis, (k, s, p) in enumerate(node.geometry):
                jump.append(jumps[i][axis] * s)
                a = offsets[i][axis] * s - p
                start.append(a)
                end.append(a + (ends[i][axis] - offsets[i][axis] - 1) * s + k)
            if m in jumps:
                if jumps[m] != tuple(jump):
                    return None
                start = [min(x, y) for x, y in zip(start, offsets[m])]
                end = [max(x, y) for x, y in zip(end, ends[m])]
            jumps[m], offsets[m], ends[m] = tuple(jump), tuple(start), tuple(
                end)
    sizes = {i: (ends[i][0] - offsets[i][0], ends[i][1] - offsets[i][1])
             for i in offsets}
    whole = _whole_nodes(graph, ids, sizes)
    if seed_id in whole:
        return None
    for i in whole:
        sizes[i] = tuple(graph.nodes[i].output_shape[:2])
        offsets[i] = jumps[i] = (0, 0)
    cost = sum(node_cost(graph.nodes[i], sizes[i]) for i in ids)
    return Windows(offsets, sizes, jumps, True, cost, frozenset(whole))


def _whole_nodes(graph, ids, sizes):
    """The nodes whose receptive-field window covers their whole map (a
    small image under a deep seed), and every node below them: they run on
    whole maps, which are smaller and need no per-item placement."""
    whole = set()
    for i in reversed(ids):
        shape = graph.nodes[i].output_shape
        if i in whole or all(sizes[i][a] >= shape[a] for a in range(2)):
            whole.add(i)
            whole.update(graph.nodes[i].inputs)
    return whole


def choose(graph, seed_id, mode, windowed="auto", min_gain=2.0):
    """The windows a pass uses: receptive-field windows for one seed per
    item when their multiply-adds are at least `min_gain` times fewer (or
    `windowed=True`), else whole maps. The same rule for every topology."""
    full = full_windows(graph, seed_id)
    if mode == "all" or windowed is False:
        return full
    if len(graph.nodes[seed_id].output_shape) != 3:
        return full
    local = receptive_windows(graph, seed_id)
    if local is None:
        return full
    if windowed is True or local.cost * min_gain <= full.cost:
        return local
    return full


def receptive_box(graph, node_id):
    """`(size, jump, start)` per axis of `node_id`'s receptive field: the
    union over every path from the input (a node that depends on a whole
    map, through global pooling or a broadcast gate, sees the whole image).

    Raises:
        ValueError: when paths disagree on the stride, or the node has no
            spatial map below it.
    """
    fields = {0: (((0, 1, 1), (0, 1, 1)), False)}
    for i in graph.ancestors(node_id)[1:]:
        node = graph.nodes[i]
        geometry = node.geometry
        if geometry is None:
            if len(node.output_shape) == 3 and any(
                    fields[m][0] is not None for m in node.inputs):
                # read whole (a broadcast gate, upsampling, a layer with no
                # window rule): every position sees the whole image
                fields[i] = (_whole_box(graph, node), True)
            else:
                fields[i] = (None, True)
            continue
        whole = False
        axes = []
        for axis, (k, s, p) in enumerate(geometry):
            start = end = jump = None
            for m in node.inputs:
                box, global_m = fields[m]
                whole = whole or global_m
                if box is None:
                    continue
                st, en, jm = box[axis]
                if jump is not None and jm * s != jump:
                    raise ValueError(
                        f"Layer '{node.name}' joins paths with different "
                        f"strides ({jump} and {jm * s} input pixels), so it "
                        "has no receptive-field box.")
                jump = jm * s
                st, en = st - p * jm, en + (k - 1 - p) * jm
                start = st if start is None else min(start, st)
                end = en if end is None else max(end, en)
            axes.append((start, end, jump))
        if axes[0][2] is None:
            fields[i] = (None, True)
            continue
        fields[i] = (tuple(axes), whole)
    box, whole = fields[node_id]
    if box is None:
        raise ValueError(f"Layer '{graph.nodes[node_id].name}' has no "
                         "spatial map below it.")
    if whole:
        frame = graph.nodes[0].output_shape
        shape = graph.nodes[node_id].output_shape
        box = tuple((min(st, -(shape[a] - 1) * jm), max(en, frame[a]), jm)
                    for a, (st, en, jm) in enumerate(box))
    size = tuple(en - st for st, en, _ in box)
    return size, tuple(jm for _, _, jm in box), tuple(st for st, _, _ in box)


def _whole_box(graph, node):
    frame = graph.nodes[0].output_shape
    box = []
    for axis in range(2):
        jump = max(1, -(-frame[axis] // node.output_shape[axis]))
        box.append((-(node.output_shape[axis] - 1) * jump, frame[axis],
                    jump))
    return tuple(box)


def chain_prefix(graph):
    """The nodes from the input while the graph is a chain of local nodes
    (each reads the previous one only, and only it reads the previous):
    what occlusion's incremental forward can run on windows."""
    prefix = []
    previous = 0
    for node in graph.nodes[1:]:
        if (node.inputs != (previous,) or graph.fan_out.get(previous) != 1
                or not node.spatial):
            break
        prefix.append(node)
        previous = node.id
    return prefix
