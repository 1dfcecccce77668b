"""The graph rewrites behind ``onnxlint fix``: what each DT001 / DT002 finding becomes.

DT001 (dead taps): a Conv / ConvTranspose keeps only its live taps.  Per spatial axis the
live taps ``first, first + t, ..., last`` (an arithmetic progression: contiguous when
``t == 1``) become a kernel of ``len(live)`` taps with dilation ``dilation * t``; dropping
``first`` leading taps moves the window by ``first * dilation`` and dropping trailing taps
shrinks it by the same amount at the end, so the new pads are
``pad_begin - first * dilation`` and ``pad_end - (k - 1 - last) * dilation`` and the output
size, and every output value, stay the same.  The same holds for ConvTranspose (taps scatter
instead of gathering, the formula is the same).  A folded zero ``Pad`` in front of a Conv is
part of the padding: the new conv reads the Pad's input and the Pad goes if nothing else
reads it.  ``auto_pad`` / ``output_shape`` become explicit pads.

Refused per node, with the reason in the report: a weight that is not an initializer (or is
also a graph input, or is read by another node), no live tap at all, live taps not evenly
spaced, negative new pads (the smaller conv would have to crop its input), an op other than
Conv / ConvTranspose, a node inside a subgraph or function.

DT002 (collapsed branches): convs that read the same tensor, have the same configuration once
dead taps are removed, and feed one Concat along channels (directly, or each through the same
element-wise activation), adjacent in the Concat's inputs, become one conv with the
concatenated weights and biases (then one activation).  The Concat's output name is kept
(produced by the merged path, or by a shorter Concat when it has other inputs too).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from analyzer.analyses.convs import NotChecked, conv_taps
from analyzer.geometry import conv_transpose_output_size, resolve_conv_transpose_pads
from analyzer.io.load import read_tensor

__all__ = ["Change", "ConvState", "RewriteResult", "rewrite_model", "count_params", "FIXABLE"]

FIXABLE = ("DT001", "DT002")
MAX_WEIGHT_ELEMENTS = 1 << 34  # read weights of any realistic size

# element-wise, channel-independent ops a branch may pass through before the Concat
_ACTIVATIONS = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
    "Gelu", "Identity", "Softplus", "Softsign", "Mish", "Clip", "ThresholdedRelu",
}  # fmt: skip


@dataclass
class ConvState:
    """One conv as it will be written: resolved attributes, weight values."""

    op_type: str
    input: str
    weight_name: str
    weight: np.ndarray
    bias: str | None
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads: tuple  # ONNX layout: begins then ends
    group: int
    output_padding: tuple | None  # ConvTranspose only
    external: bool  # the weight was stored as external data

    def config(self):
        return (self.op_type, self.input, self.kernel, self.strides, self.dilations, self.pads, self.group,
                self.output_padding, str(self.weight.dtype), self._in_channels())

    def _in_channels(self):
        return int(self.weight.shape[0] if self.op_type == "ConvTranspose" else self.weight.shape[1])

    def describe(self) -> dict:
        return {
            "kernel_shape": list(self.kernel),
            "dilations": list(self.dilations),
            "strides": list(self.strides),
            "pads": list(self.pads),
            "group": self.group,
            "weight_shape": list(self.weight.shape),
            "input": self.input,
        }


@dataclass
class Change:
    rule: str
    node: str
    op_type: str
    status: str  # "fixed" | "refused"
    reason: str | None = None
    before: dict | None = None
    after: dict | None = None
    params_removed: int = 0
    bytes_removed: int = 0
    branches: list = field(default_factory=list)  # DT002: the merged convs
    merged_node: str | None = None  # DT002: the new conv; DT001: the conv it was merged into

    def to_dict(self) -> dict:
        d = {"rule": self.rule, "node": self.node, "op_type": self.op_type, "status": self.status}
        if self.reason is not None:
            d["reason"] = self.reason
        if self.before is not None:
            d["before"], d["after"] = self.before, self.after
        if self.rule == "DT002":
            d["branches"] = list(self.branches)
        if self.merged_node is not None:
            d["merged_node"] = self.merged_node
        d["params_removed"], d["bytes_removed"] = self.params_removed, self.bytes_removed
        return d


@dataclass
class RewriteResult:
    changes: list
    externalize: set  # names of new main-graph initializers to store externally


class Refused(Exception):
    pass


def count_params(model: onnx.ModelProto) -> tuple[int, int]:
    """(elements, bytes) of every initializer in every graph (from dims, data not read)."""
    n = nbytes = 0
    for init in _iter_initializers(model):
        size = int(np.prod(init.dims, dtype=np.int64)) if len(init.dims) else 1
        n += size
        try:
            item = helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
        except Exception:
            item = 0
        nbytes += size * item
    return n, nbytes


def _iter_graphs(model):
    stack = [model.graph]
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            for a in node.attribute:
                if a.type == AttributeProto.GRAPH:
                    stack.append(a.g)
                elif a.type == AttributeProto.GRAPHS:
                    stack.extend(a.graphs)


def _iter_initializers(model):
    for g in _iter_graphs(model):
        yield from g.initializer


def _readers(model) -> dict:
    """How often each name is read: node inputs in every graph and function, main outputs."""
    counts: dict = {}
    for g in _iter_graphs(model):
        for node in g.node:
            for name in node.input:
                if name:
                    counts[name] = counts.get(name, 0) + 1
    for f in model.functions:
        for node in f.node:
            for name in node.input:
                counts[name] = counts.get(name, 0) + 1
    for o in model.graph.output:
        counts[o.name] = counts.get(o.name, 0) + 1
    return counts


class _Names:
    """Fresh tensor / node names that collide with nothing in the model."""

    def __init__(self, model):
        self.taken = set()
        for g in _iter_graphs(model):
            self.taken.update(n.name for n in g.node)
            self.taken.update(o for n in g.node for o in n.output)
            self.taken.update(i.name for i in g.input)
            self.taken.update(i.name for i in g.initializer)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name


def _fmt(seq) -> str:
    return "x".join(str(x) for x in seq)


class _Rewriter:
    def __init__(self, am, codes):
        self.am = am
        self.model = am.model
        self.codes = set(codes)
        g = self.model.graph
        self.init_index = {t.name: i for i, t in enumerate(g.initializer)}
        self.graph_inputs = {i.name for i in g.input}
        self.readers = _readers(self.model)
        self.ops_by_id = {op.id: op for op in am.graph.topological_order("main")}
        self.states: dict[int, ConvState] = {}  # node index -> rewritten conv (DT001)
        self.replaced: dict[str, np.ndarray] = {}  # initializer name -> new value
        self.externalize: set = set()
        self.removed_nodes: set = set()
        self.new_nodes: dict[int, list] = {}  # concat index -> nodes replacing it
        self.orphans: list = []  # names that may have lost their last reader
        self.names = _Names(self.model)
        self.changes: list = []

    # -- weights -------------------------------------------------------
    def _initializer(self, name, what="weight"):
        if name not in self.init_index:
            sparse = {t.values.name for t in self.model.graph.sparse_initializer}
            src = "a graph input" if name in self.graph_inputs else "a sparse initializer" if name in sparse else "computed by a node"
            raise Refused(f"{what} {name!r} is not an initializer ({src})")
        if name in self.graph_inputs:
            raise Refused(f"{what} {name!r} is also a graph input (it can be overridden at run time)")
        proto = self.model.graph.initializer[self.init_index[name]]
        arr = read_tensor(self.am.loaded, proto, max_elements=MAX_WEIGHT_ELEMENTS)
        if arr is None:
            raise Refused(f"{what} {name!r}: its data cannot be read")
        return arr, proto.data_location == TensorProto.EXTERNAL

    # -- DT001 ---------------------------------------------------------
    def state_of(self, ct) -> ConvState:
        """The conv as it is (dead taps and all), with resolved pads and a folded Pad."""
        op = ct.op
        if op.op_type not in ("Conv", "ConvTranspose"):
            raise Refused(f"{op.op_type} is not rewritten (only Conv and ConvTranspose)")
        w_name = ct.weight_key[2]
        weight, external = self._initializer(w_name)
        bias = op.inputs[2][2] if len(op.inputs) > 2 and op.inputs[2] is not None else None
        return ConvState(
            op_type=op.op_type, input=ct.input_key[2], weight_name=w_name, weight=weight, bias=bias,
            kernel=tuple(ct.kernel_shape), strides=tuple(ct.strides), dilations=tuple(ct.dilations),
            pads=tuple(ct.pads_begin) + tuple(ct.pads_end), group=ct.group,
            output_padding=tuple(ct.output_padding) if ct.transpose else None, external=external,
        )  # fmt: skip

    def fix_dead_taps(self, ct, old: ConvState) -> ConvState:
        if self.readers.get(ct.weight_key[2], 0) > 1:
            raise Refused(f"weight {ct.weight_key[2]!r} is shared with another node")
        state = ConvState(**vars(old))
        rank = len(ct.kernel_shape)
        if ct.transpose:
            self._check_transpose_size(ct)
            if str(ct.op.attr("auto_pad", "NOTSET")).startswith("SAME") and any(ct.output_padding):
                raise Refused("auto_pad SAME with output_padding: onnx and onnxruntime disagree on the output size")
        index = [slice(None), slice(None)]
        kernel, dilations, begins, ends = [], [], [], []
        for ax, a in enumerate(ct.taps.axes):
            live = list(a.live)
            if not live:
                raise Refused("no tap ever reads input: the output is the bias alone")
            steps = {b - c for b, c in zip(live[1:], live)}
            if len(steps) > 1:
                raise Refused(f"live taps {live} on spatial axis {ax} are not evenly spaced")
            step = steps.pop() if steps else 1
            first, last = live[0], live[-1]
            k_new = len(live)
            d = a.dilation
            if k_new > 1:
                d_new = d * step
            elif ct.transpose and ct.output_padding[ax] >= ct.strides[ax]:
                d_new = d  # output_padding must stay below max(stride, dilation)
            else:
                d_new = 1
            b_new = a.pad_begin - first * d
            e_new = a.pad_end - (a.kernel - 1 - last) * d
            kernel.append(k_new)
            dilations.append(d_new)
            begins.append(b_new)
            ends.append(e_new)
            index.append(slice(first, last + 1, step))
        if any(p < 0 for p in begins + ends):
            raise Refused(
                f"effective pads {begins + ends} are negative: the smaller conv would have to crop its input"
            )
        assert len(kernel) == rank
        state.weight = np.ascontiguousarray(state.weight[tuple(index)])
        state.kernel, state.dilations, state.pads = tuple(kernel), tuple(dilations), tuple(begins + ends)
        return state

    def _check_transpose_size(self, ct):
        """With output_shape larger than the unpadded output, onnxruntime appends zeros: no pads express that."""
        op = ct.op
        if op.attr("output_shape", None) is None:
            return
        _, _, outs = resolve_conv_transpose_pads(
            op.attr("auto_pad", "NOTSET"), ct.input_spatial, ct.kernel_shape, ct.strides, ct.dilations,
            op.attr("pads", None), ct.output_padding, op.attr("output_shape", None))  # fmt: skip
        for ax, a in enumerate(ct.taps.axes):
            natural = conv_transpose_output_size(ct.input_spatial[ax], a.kernel, ct.strides[ax], a.dilation,
                                                 a.pad_begin, a.pad_end, ct.output_padding[ax])
            if outs[ax] != natural:
                raise Refused(f"output_shape {list(op.attr('output_shape'))} extends the output beyond its natural size")

    def run_dt001(self, findings):
        for f in findings:
            op = self._op(f)
            before_n = 0
            try:
                if op is None:
                    raise Refused(f"inside {f.graph}: only main-graph nodes are rewritten")
                try:
                    ct = conv_taps(self.am, op)
                except NotChecked as e:
                    raise Refused(f"not analyzable: {e}") from None
                old = self.state_of(ct)
                before_n = old.weight.size
                new = self.fix_dead_taps(ct, old)
            except Refused as e:
                self.changes.append(Change("DT001", f.node, f.op_type, "refused", str(e)))
                continue
            self.states[op.index] = new
            self.replaced[new.weight_name] = new.weight
            if new.external:
                self.externalize.add(new.weight_name)
            if ct.pad_node is not None:
                self.orphans.append(op.inputs[0][2])
            removed = before_n - new.weight.size
            self.changes.append(Change(
                "DT001", f.node, f.op_type, "fixed", before=old.describe(), after=new.describe(),
                params_removed=int(removed), bytes_removed=int(removed * new.weight.dtype.itemsize)))  # fmt: skip

    def _op(self, f):
        if f.graph != "main":
            return None
        return self.am.graph.ops.get(("op", "main", f.node_index))

    # -- DT002 ---------------------------------------------------------
    def run_dt002(self, findings):
        for f in findings:
            names = [b["node"] for b in f.details.get("branches", [])]
            try:
                if f.graph != "main":
                    raise Refused(f"inside {f.graph}: only main-graph nodes are merged")
                self._merge([self.ops_by_id[n] for n in names], f)
            except Refused as e:
                self.changes.append(Change("DT002", f.node, f.op_type, "refused", str(e), branches=names))

    def _single_reader(self, name):
        users = self.am.graph.consumers(("value", "main", name))
        if self.readers.get(name, 0) != 1 or len(users) != 1:
            raise Refused(f"{name!r} has other readers than the branch's next op")
        return users[0][0]

    def _merge(self, convs, f):
        nodes = self.model.graph.node
        paths = []  # per branch: (conv op, activation op or None, tensor fed to the Concat)
        for op in convs:
            user = self._single_reader(op.outputs[0][2])
            act = None
            if user.op_type in _ACTIVATIONS and user.domain == "" and user.op_type != "Concat":
                act = user
                user = self._single_reader(act.outputs[0][2])
            if user.op_type != "Concat":
                raise Refused(f"branch {op.id!r} does not feed a Concat")
            paths.append((op, act, user))
        concat = paths[0][2]
        if any(p[2].key != concat.key for p in paths):
            raise Refused("the branches feed different Concat nodes")
        if concat.index in self.new_nodes:
            raise Refused(f"Concat {concat.id!r} is already rewritten by another merge")
        acts = [p[1] for p in paths]
        if any((a is None) != (acts[0] is None) for a in acts) or (
            acts[0] is not None and len({_act_signature(nodes[a.index]) for a in acts}) != 1
        ):
            raise Refused("the branches do not all pass through the same activation")
        states = []
        for op, _, _ in paths:
            if op.index in self.states:
                states.append(self.states[op.index])
                continue
            try:
                ct = conv_taps(self.am, op)
            except NotChecked as e:
                raise Refused(f"branch {op.id!r} not analyzable: {e}") from None
            states.append(self.state_of(ct))
        if len({s.config() for s in states}) != 1:
            detail = "; ".join(f"{op.id}: {_fmt(s.kernel)} dilations {list(s.dilations)} pads {list(s.pads)}"
                               for (op, _, _), s in zip(paths, states))
            hint = "" if "DT001" in self.codes else " (select DT001 too to remove the dead taps first)"
            raise Refused(f"the branches differ once their dead taps are handled{hint}: {detail}")
        s0 = states[0]
        if s0.group != 1:
            raise Refused(f"group {s0.group}: concatenating grouped weights would regroup the channels")
        rank = len(s0.kernel) + 2
        axis = int(concat.attr("axis", 1))
        if (axis + rank if axis < 0 else axis) != 1:
            raise Refused(f"the Concat joins axis {axis}, not the channel axis")
        concat_inputs = list(nodes[concat.index].input)
        fed = [(act.outputs[0][2] if act is not None else op.outputs[0][2]) for op, act, _ in paths]
        positions = [concat_inputs.index(t) for t in fed]
        order = sorted(range(len(paths)), key=lambda i: positions[i])
        pos = sorted(positions)
        if pos != list(range(pos[0], pos[0] + len(pos))):
            raise Refused(f"the branches are not adjacent in the Concat's inputs (positions {pos})")
        w_axis = 1 if s0.op_type == "ConvTranspose" else 0
        weights = [states[i].weight for i in order]
        merged_w = np.concatenate(weights, axis=w_axis)
        biases, bias_external = [], False
        for i in order:
            s = states[i]
            out_ch = s.weight.shape[w_axis] * (s.group if s.op_type == "ConvTranspose" else 1)
            if s.bias is None:
                biases.append(None if all(st.bias is None for st in states) else np.zeros(out_ch, s.weight.dtype))
            else:
                b, ext = self._initializer(s.bias, "bias")
                bias_external |= ext
                if b.shape != (out_ch,):
                    raise Refused(f"bias {s.bias!r} has shape {list(b.shape)}, expected [{out_ch}]")
                biases.append(b)
        merged_b = None if biases[0] is None else np.concatenate(biases).astype(merged_w.dtype, copy=False)

        # the new nodes, at the Concat's position
        first_op = paths[order[0]][0]
        w_name = self.names.fresh(f"{states[order[0]].weight_name}.merged")
        self._new_initializer(w_name, merged_w, any(s.external for s in states))
        conv_inputs = [s0.input, w_name]
        if merged_b is not None:
            b_name = self.names.fresh(f"{w_name}.bias")
            self._new_initializer(b_name, merged_b, bias_external)
            conv_inputs.append(b_name)
        full = len(pos) == len(concat_inputs)
        final = concat.outputs[0][2] if full else self.names.fresh(f"{concat.outputs[0][2]}_merged")
        conv_out = self.names.fresh(f"{final}_conv") if acts[0] is not None else final
        conv_name = self.names.fresh(f"{first_op.id}_merged")
        conv = helper.make_node(s0.op_type, conv_inputs, [conv_out], name=conv_name, **_attrs(s0))
        conv.metadata_props.extend(nodes[first_op.index].metadata_props)
        new = [conv]
        if acts[0] is not None:
            a0 = nodes[paths[order[0]][1].index]
            act = onnx.NodeProto()
            act.CopyFrom(a0)
            act.name = self.names.fresh(f"{a0.name or a0.op_type}_merged")
            act.input[0] = conv_out
            del act.output[:]
            act.output.append(final)
            new.append(act)
        if not full:
            cat = onnx.NodeProto()
            cat.CopyFrom(nodes[concat.index])
            del cat.input[:]
            cat.input.extend(concat_inputs[: pos[0]] + [final] + concat_inputs[pos[-1] + 1:])
            new.append(cat)
        self.new_nodes[concat.index] = new
        self.removed_nodes.add(concat.index)
        for op, act, _ in paths:
            self.removed_nodes.add(op.index)
            self.orphans.extend(i[2] for i in op.inputs if i is not None)
            if act is not None:
                self.removed_nodes.add(act.index)
                self.orphans.extend(i[2] for i in act.inputs[1:] if i is not None)
            self.orphans.append(nodes[op.index].input[0])
        before = sum(s.weight.size for s in states) + sum(b.size for b in biases if b is not None)
        after = merged_w.size + (merged_b.size if merged_b is not None else 0)
        for c in self.changes:
            if c.rule == "DT001" and c.status == "fixed" and c.node in {p[0].id for p in paths}:
                c.merged_node = conv_name
        self.changes.append(Change(
            "DT002", f.node, s0.op_type, "fixed",
            before={"nodes": [paths[i][0].id for i in order], "concat": concat.id,
                    "out_channels": [int(states[i].weight.shape[w_axis]) for i in order]},
            after={"node": conv_name, "weight_shape": list(merged_w.shape), "concat_output": concat.outputs[0][2]},
            params_removed=int(before - after), bytes_removed=int((before - after) * merged_w.dtype.itemsize),
            branches=[paths[i][0].id for i in order], merged_node=conv_name))  # fmt: skip
        for i in order:
            self.states.pop(paths[i][0].index, None)

    def _new_initializer(self, name, arr, external):
        self.model.graph.initializer.append(numpy_helper.from_array(arr, name))
        self.init_index[name] = len(self.model.graph.initializer) - 1
        if external:
            self.externalize.add(name)

    # -- apply ---------------------------------------------------------
    def apply(self):
        g = self.model.graph
        for name, arr in self.replaced.items():
            old = g.initializer[self.init_index[name]]
            t = numpy_helper.from_array(arr, name)
            t.doc_string = old.doc_string
            old.CopyFrom(t)
        for index, state in self.states.items():
            node = g.node[index]
            self.orphans.append(node.input[0])
            node.input[0] = state.input
            keep = [a for a in node.attribute
                    if a.name not in ("kernel_shape", "strides", "dilations", "pads", "group", "auto_pad", "output_shape", "output_padding")]
            del node.attribute[:]
            node.attribute.extend(keep)
            node.attribute.extend(helper.make_attribute(k, v) for k, v in _attrs(state).items())
        out = []
        for i, node in enumerate(g.node):
            out.extend(self.new_nodes.get(i, ()))
            if i not in self.removed_nodes:
                out.append(node)
        _replace_nodes(g, out)
        self._prune()

    def _prune(self):
        """Remove what the rewrites left without a reader (and only that)."""
        g = self.model.graph
        work = set(self.orphans)
        dead_inits = set()
        while work:
            readers = _readers(self.model)
            producers = {o: i for i, n in enumerate(g.node) for o in n.output if o}
            dead_nodes, nxt = set(), set()
            for name in work:
                if not name or readers.get(name, 0):
                    continue
                if name in self.init_index and name not in self.graph_inputs:
                    dead_inits.add(name)
                elif name in producers:
                    node = g.node[producers[name]]
                    if all(not readers.get(o, 0) for o in node.output if o):
                        dead_nodes.add(producers[name])
                        nxt.update(node.input)
            if dead_nodes:
                _replace_nodes(g, [n for i, n in enumerate(g.node) if i not in dead_nodes])
            work = nxt
        for i in sorted((self.init_index[n] for n in dead_inits), reverse=True):
            del g.initializer[i]
        self.externalize -= dead_inits
        present = {o for n in g.node for o in n.output} | {t.name for t in g.initializer} | {i.name for i in g.input}
        kept_vi = [vi for vi in g.value_info if vi.name in present]
        for vi in kept_vi:  # a sliced weight's declared shape follows it
            if vi.name in self.replaced and vi.type.HasField("tensor_type"):
                shape = vi.type.tensor_type.shape
                del shape.dim[:]
                for d in self.replaced[vi.name].shape:
                    shape.dim.add().dim_value = int(d)
        if kept_vi:
            copies = []
            for vi in kept_vi:
                c = onnx.ValueInfoProto()
                c.CopyFrom(vi)
                copies.append(c)
            del g.value_info[:]
            g.value_info.extend(copies)


def _replace_nodes(g, nodes):
    """Set ``g.node`` to ``nodes`` (copied first: they may be elements of ``g.node`` itself)."""
    copies = []
    for n in nodes:
        c = onnx.NodeProto()
        c.CopyFrom(n)
        copies.append(c)
    del g.node[:]
    g.node.extend(copies)


def _act_signature(node) -> tuple:
    attrs = tuple(sorted(a.SerializeToString() for a in node.attribute))
    return (node.op_type, node.domain, tuple(node.input[1:]), attrs)


def _attrs(s: ConvState) -> dict:
    d = {
        "kernel_shape": list(s.kernel),
        "strides": list(s.strides),
        "dilations": list(s.dilations),
        "pads": list(s.pads),
        "group": int(s.group),
    }
    if s.op_type == "ConvTranspose" and s.output_padding and any(s.output_padding):
        d["output_padding"] = list(s.output_padding)
    return d


def rewrite_model(am, findings, codes=FIXABLE) -> RewriteResult:
    """Rewrite ``am.model`` in place for ``findings`` (of the rules in ``codes``)."""
    rw = _Rewriter(am, codes)
    if "DT001" in codes:
        rw.run_dt001([f for f in findings if f.rule == "DT001"])
    if "DT002" in codes:
        rw.run_dt002([f for f in findings if f.rule == "DT002"])
    rw.apply()
    return RewriteResult(rw.changes, rw.externalize)
