#!/usr/bin/env python3
"""torch_gpt2.py — a PyTorch GPT-2 (Hugging Face transformers, randomly initialised from a
seed, nothing downloaded) that generates greedily and speaks `hmt bench`'s line protocol:

  @token iter=I n=K id=T wall_ms=X gpu_ms=Y   one per measured token (with HMT_BENCH_LINES=1
                                              or --per-token)
  tokens: id id ...                           the prompt and generated token ids
  logits_sha256: <hex>                        SHA-256 of the last step's float32 logits

Usage (on a GPU machine; see bench/gpu/README.md):
  python3 torch_gpt2.py --config 124M --tokens 32            # baseline
  hmt run --hints H --hbm-limit 256M -- python3 torch_gpt2.py --load DIR --tokens 32
  python3 torch_gpt2.py --config 124M --save DIR --train-steps 20   # a checkpoint with Adam
                                              # state (model.safetensors + optimizer.pt) for
                                              # `hmt analyze DIR`

Deterministic: fixed seeds, deterministic algorithms, greedy decoding, no KV-cache reuse
across runs. Untested here (no GPU and no torch on the machines that wrote it).
"""
import argparse
import hashlib
import os
import sys
import time

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

CONFIGS = {
    "tiny": dict(n_layer=2, n_head=4, n_embd=128, vocab_size=256, n_positions=128),
    "124M": dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024),
    "350M": dict(n_layer=24, n_head=16, n_embd=1024, vocab_size=50257, n_positions=1024),
    "774M": dict(n_layer=36, n_head=20, n_embd=1280, vocab_size=50257, n_positions=1024),
}


def build(args):
    torch.manual_seed(args.seed)
    if args.load:
        model = GPT2LMHeadModel.from_pretrained(args.load, local_files_only=True)
    else:
        model = GPT2LMHeadModel(GPT2Config(**CONFIGS[args.config]))
    return model


def train_and_save(model, args):
    """A few AdamW steps on seeded random tokens, so the optimizer has exp_avg_sq; saved as a
    Hugging Face Trainer directory (model.safetensors + optimizer.pt)."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator(device="cpu").manual_seed(args.seed + 1)
    V, T = model.config.vocab_size, min(128, model.config.n_positions)
    for step in range(args.train_steps):
        x = torch.randint(0, V, (4, T), generator=g).to(args.device)
        loss = model(x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        print(f"train step {step} loss {loss.item():.4f}", file=sys.stderr)
    model.save_pretrained(args.save, safe_serialization=True)
    torch.save(opt.state_dict(), os.path.join(args.save, "optimizer.pt"))
    print(f"saved {args.save} (model.safetensors + optimizer.pt)")


@torch.no_grad()
def generate(model, args):
    model.eval()
    per_token = args.per_token or os.environ.get("HMT_BENCH_LINES", "0") not in ("", "0")
    prompt = [int(t) for t in args.prompt.encode()] if model.config.vocab_size >= 256 else [1]
    dev = args.device
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    walls = []
    logits = None
    for it in range(-args.warmup, args.iterations):
        ids = torch.tensor([prompt], device=dev)
        for n in range(args.tokens):
            t0 = time.perf_counter()
            start.record()
            # the whole sequence each step (no KV cache): every weight is used every token,
            # the pattern that stresses a memory budget most
            logits = model(ids).logits[0, -1].float()
            nxt = int(torch.argmax(logits).item())
            end.record()
            end.synchronize()
            wall = (time.perf_counter() - t0) * 1e3
            ids = torch.cat([ids, torch.tensor([[nxt]], device=dev)], dim=1)
            if it >= 0:
                walls.append(wall)
                if per_token:
                    print(f"@token iter={it} n={n} id={nxt} wall_ms={wall:.6f} "
                          f"gpu_ms={start.elapsed_time(end):.6f}")
    print("tokens: " + " ".join(str(t) for t in ids[0].tolist()))
    walls.sort()
    mean = sum(walls) / len(walls)
    print(f"latency_ms: mean {mean:.4f} median {walls[len(walls) // 2]:.4f} "
          f"({len(walls)} tokens, {args.iterations} iterations)")
    print(f"tokens_per_s: {1e3 / mean:.2f}")
    print("logits_sha256: " + hashlib.sha256(logits.cpu().numpy().tobytes()).hexdigest())
    alloc = torch.cuda.memory_allocated()
    print(f"torch_memory_allocated: {alloc}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="124M", choices=sorted(CONFIGS))
    ap.add_argument("--load", help="a directory written by --save (or any HF GPT-2 dir)")
    ap.add_argument("--save", help="train --train-steps steps and save model + optimizer here")
    ap.add_argument("--train-steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prompt", default="def ")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--per-token", action="store_true")
    args = ap.parse_args()
    args.device = "cuda"
    # deterministic kernels where PyTorch has them; a warning (not an error) where it has not
    torch.use_deterministic_algorithms(True, warn_only=True)
    model = build(args).to(getattr(torch, args.dtype)).to(args.device)
    if args.save:
        train_and_save(model, args)
    else:
        generate(model, args)


if __name__ == "__main__":
    main()
