"""The BERT encoder as an ONNX graph, written from the safetensors weights with numpy and `onnx` (no torch).

Why: a serving install then needs neither torch nor transformers to make its encoder (issue 22). The graph is
the one torch.onnx wrote for BertModel, op for op where it matters for the numbers: the same MatMul weights
(transposed Linear weights), Add order, LayerNormalization, erf GELU, attention with q and k each scaled by
head_dim ** -0.25 and padding keys masked with -inf. ONNX Runtime's int8 quantisation then quantises the same
MatMuls of the same weights, so a model trained on a torch-exported encoder scores the same on this one
(tests/test_onnx_graph.py measures both).

Inputs input_ids, attention_mask, token_type_ids (int64, [batch, tokens]); output last_hidden_state (float32,
[batch, tokens, hidden]), which model/onnx_runtime.mean_pool pools.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np

# Bumped whenever the graph written changes: it is part of the cache key (model/onnx_runtime.py).
GRAPH_VERSION = 1
OPSET = 17
# ONNX Runtime releases of the last few years all read IR 8 (what torch.onnx wrote for opset 17).
IR_VERSION = 8
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"


class GraphError(ValueError):
    """The weights folder is not a BERT encoder this builder can write (config or tensors unexpected)."""


def _check_config(config: dict[str, Any]) -> None:
    expected = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
    found = {key: config.get(key, "absolute" if key == "position_embedding_type" else None) for key in expected}
    if found != expected:
        raise GraphError(
            f"config.json describes {found}, expected {expected}: only BERT encoders with erf GELU and absolute "
            "positions can be written without torch; install torch (pip install 'comment-moderation[train]')"
        )
    if config["hidden_size"] % config["num_attention_heads"]:
        raise GraphError(
            f"hidden_size {config['hidden_size']} is not a multiple of {config['num_attention_heads']} heads"
        )


class _Graph:
    """Nodes and initializers being collected; names are made unique by a counter."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str) -> None:
        self.weights, self.prefix = weights, prefix
        self.nodes: list[Any] = []
        self.initializers: dict[str, Any] = {}
        self._count = 0

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        from onnx import helper

        self._count += 1
        out = f"{op_type}_{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        if name not in self.initializers:  # shared constants (scales, shapes) are stored once
            self.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(value), name)
        return name

    def weight(self, key: str, transpose: bool = False) -> str:
        full = self.prefix + key
        if full not in self.weights:
            raise GraphError(f"tensor {full} is missing from the weights file; is this a BERT checkpoint?")
        value = self.weights[full].astype(np.float32)
        return self.const(full + (".T" if transpose else ""), value.T if transpose else value)

    def linear(self, x: str, key: str) -> str:
        # torch.nn.Linear: x @ W.T + b, with W.T stored as the initializer (what torch.onnx wrote).
        return self.op("Add", self.weight(f"{key}.bias"), self.op("MatMul", x, self.weight(f"{key}.weight", True)))

    def layer_norm(self, x: str, key: str, eps: float) -> str:
        return self.op(
            "LayerNormalization", x, self.weight(f"{key}.weight"), self.weight(f"{key}.bias"), axis=-1, epsilon=eps
        )


def _embeddings(g: _Graph, eps: float, max_positions: int) -> str:
    # Position ids as torch.onnx wrote them, a slice of [[0 .. max_positions - 1]]: ONNX Runtime's embedding
    # fusion expects that pattern and breaks on a Range (ends must be 1-D, found a scalar).
    length = g.op("Shape", "input_ids", start=1, end=2)
    ids = g.const("position_ids", np.arange(max_positions, dtype=np.int64)[None, :])
    one = g.const("one", np.array([1], np.int64))
    positions = g.op("Slice", ids, g.const("zero", np.array([0], np.int64)), length, one, one)
    words = g.op("Gather", g.weight("embeddings.word_embeddings.weight"), "input_ids")
    types = g.op("Gather", g.weight("embeddings.token_type_embeddings.weight"), "token_type_ids")
    summed = g.op(
        "Add", g.op("Add", words, types), g.op("Gather", g.weight("embeddings.position_embeddings.weight"), positions)
    )
    return g.layer_norm(summed, "embeddings.LayerNorm", eps)


def _attention(g: _Graph, x: str, key: str, mask: str, heads: int, head_dim: int) -> str:
    split = g.const("split_heads", np.array([0, 0, heads, head_dim], np.int64))  # [batch, tokens, heads, dim]
    scale = g.const("scale", np.array(head_dim**-0.25, np.float32))  # on q and on k: sqrt(head_dim) in all

    def heads_of(name: str) -> str:
        return g.op("Reshape", g.linear(x, f"{key}.self.{name}"), split)

    q = g.op("Mul", g.op("Transpose", heads_of("query"), perm=[0, 2, 1, 3]), scale)
    k = g.op("Mul", g.op("Transpose", heads_of("key"), perm=[0, 2, 3, 1]), scale)
    v = g.op("Transpose", heads_of("value"), perm=[0, 2, 1, 3])
    weights = g.op("Softmax", g.op("Add", g.op("MatMul", q, k), mask), axis=-1)
    merged = g.op("Transpose", g.op("MatMul", weights, v), perm=[0, 2, 1, 3])
    merged = g.op("Reshape", merged, g.const("merge_heads", np.array([0, 0, -1], np.int64)))
    return g.op("Add", g.linear(merged, f"{key}.output.dense"), x)


def _layer(g: _Graph, x: str, i: int, mask: str, config: dict[str, Any]) -> str:
    key, eps = f"encoder.layer.{i}", float(config["layer_norm_eps"])
    heads = int(config["num_attention_heads"])
    attended = _attention(g, x, f"{key}.attention", mask, heads, int(config["hidden_size"]) // heads)
    attended = g.layer_norm(attended, f"{key}.attention.output.LayerNorm", eps)
    hidden = g.linear(attended, f"{key}.intermediate.dense")
    # Exact GELU, x * (1 + erf(x / sqrt 2)) / 2, in torch's order of operations.
    erf = g.op("Erf", g.op("Div", hidden, g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))))
    gelu = g.op("Mul", g.op("Mul", hidden, g.op("Add", erf, g.const("one_f", np.array(1.0, np.float32)))), "half")
    return g.layer_norm(g.op("Add", g.linear(gelu, f"{key}.output.dense"), attended), f"{key}.output.LayerNorm", eps)


def build(folder: Path) -> Any:
    """The encoder in `folder` (config.json + model.safetensors) as an onnx.ModelProto, checked by onnx."""
    import onnx
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    _check_config(config)
    weights = load_file(str(folder / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
    g = _Graph(weights, prefix)
    g.const("half", np.array(0.5, np.float32))
    # Padding keys get -inf before the softmax: [batch, 1, 1, tokens], broadcast over heads and queries.
    keep = g.op(
        "Unsqueeze", g.op("Cast", "attention_mask", to=TensorProto.BOOL), g.const("axes12", np.array([1, 2], np.int64))
    )
    mask = g.op(
        "Where", keep, g.const("zero_f", np.array(0.0, np.float32)), g.const("neg_inf", np.array(-np.inf, np.float32))
    )
    hidden = _embeddings(g, float(config["layer_norm_eps"]), int(config["max_position_embeddings"]))
    for i in range(int(config["num_hidden_layers"])):
        hidden = _layer(g, hidden, i, mask, config)
    g.nodes.append(helper.make_node("Identity", [hidden], [OUTPUT], name=OUTPUT))
    dims = ["batch", "tokens"]
    graph = helper.make_graph(
        g.nodes,
        "bert_encoder",
        [helper.make_tensor_value_info(name, TensorProto.INT64, dims) for name in INPUTS],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [*dims, int(config["hidden_size"])])],
        list(g.initializers.values()),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="comment-moderation")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
