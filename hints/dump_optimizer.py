"""dump_optimizer.py — write a live model's weights and Adam state, by parameter name, to one
safetensors file that `hmt analyze` reads directly.

For jobs whose checkpoints `hmt analyze` cannot read on its own: sharded or exotic layouts
(FSDP, DeepSpeed ZeRO, custom optimizers wrapping Adam, several optimizers, ...). The
standard layouts — a nanoGPT ckpt.pt, a Hugging Face Trainer directory, an
optimizer.state_dict() file plus its weights — do not need it.

Usage, in the training process (rank 0, after gathering full, unsharded tensors — e.g. FSDP
with FULL_STATE_DICT, or DeepSpeed's zero_to_fp32 consolidation):

    from dump_optimizer import dump_optimizer
    dump_optimizer(model, optimizer, "state.safetensors")

then:  hmt analyze state.safetensors

File layout (safetensors; __metadata__ "format" = "hmt-optimizer-dump"):
    "<name>"             the parameter (as stored; tied parameters appear once, under the
                         first name named_parameters() gives; buffers are included)
    "<name>::exp_avg"    Adam's first moment, same shape
    "<name>::exp_avg_sq" Adam's second moment, same shape
    "<name>::step"       the step count, F32 scalar of shape [1]
Metadata "tied" is a JSON object {alias: name} for parameters saved once under two names.

Requires torch only. The file is written here, not with the `safetensors` package, because
that package reorders tensors and hmt takes the data order as the state-dict (upload) order.
Not tested in this repository: torch is not installed where hmt is built.
"""

import json
import struct

import torch

_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def _collect(model, optimizer):
    tensors, tied, seen = {}, {}, {}
    try:
        named = list(model.named_parameters(remove_duplicate=False))
    except TypeError:  # torch < 2.0 has no remove_duplicate; tied names are then not listed
        named = list(model.named_parameters())
    for name, p in named:
        if id(p) in seen:
            tied[name] = seen[id(p)]
            continue
        seen[id(p)] = name
        tensors[name] = p.detach()
    for name, b in model.named_buffers():
        tensors.setdefault(name, b.detach())
    for group in optimizer.param_groups:
        for p in group["params"]:
            name = seen.get(id(p))
            state = optimizer.state.get(p)
            if name is None or not state:
                continue
            if "exp_avg_sq" not in state:
                raise ValueError(f"{name}: optimizer state has no exp_avg_sq (not Adam?)")
            tensors[name + "::exp_avg"] = state["exp_avg"].detach()
            tensors[name + "::exp_avg_sq"] = state["exp_avg_sq"].detach()
            step = state.get("step", 0)
            step = float(step.item() if torch.is_tensor(step) else step)
            tensors[name + "::step"] = torch.tensor([step], dtype=torch.float32)
    return tensors, tied


def _write(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        t = t.to("cpu").contiguous()
        if t.dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype {t.dtype} has no safetensors spelling hmt reads")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def dump_optimizer(model, optimizer, path):
    """Writes model weights and Adam state by name to `path` (safetensors)."""
    tensors, tied = _collect(model, optimizer)
    _write(path, tensors, {"format": "hmt-optimizer-dump", "tied": json.dumps(tied)})


if __name__ == "__main__":
    print(__doc__)
