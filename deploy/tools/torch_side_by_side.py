"""Times Oni's recurrent policy network (grid shapes, GRU core) against the same network in PyTorch.

Same layers, sizes and batch as `oni bench learner`: a T=32, B=16 rollout
(33 x 16 observation rows) through the map CNN, the message CNN, the trunk,
a GRU stepped over the 33 rows and both heads; one APPO-style update is
forward + backward through time + Adam; worker inference is one step for 16
envs. Both sides use one thread. With --checkpoint RUN_DIR/checkpoints/
policy.safetensors it also loads an Oni checkpoint into the PyTorch model
(strict: every name and shape must match) and prints its outputs.

Tools only: run it through deploy/tools/torch-side-by-side.sh, which makes
the venv and builds Oni.
"""
import argparse
import sys
import json
import re
import subprocess
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MessageEncoder(nn.Module):
    def __init__(self, length, embedding, filters):
        super().__init__()
        self.embed = nn.Embedding(256, embedding)
        self.conv0 = nn.Conv1d(embedding, filters, 3, padding=1)
        self.conv1 = nn.Conv1d(filters, filters, 3, padding=1)

    def forward(self, message):  # uint8 [rows, L]
        x = self.embed(message.long()).permute(0, 2, 1)
        x = F.elu(self.conv1(F.elu(self.conv0(x))))
        return x.max(dim=2).values


class Policy(nn.Module):
    """Oni's PolicyNetwork, parameter for parameter (same names and shapes)."""

    def __init__(self, a):
        super().__init__()
        self.a = a
        self.embed = nn.Embedding(128, a["embedding"])
        self.conv0 = nn.Conv2d(a["embedding"], a["filters"], 3, padding=1)
        self.conv1 = nn.Conv2d(a["filters"], a["filters"], 3, padding=1)
        joined = a["filters"] * a["height"] * a["width"] + a["statusSize"]
        if a["messageLength"] > 0:
            self.message = MessageEncoder(a["messageLength"], a["messageEmbedding"], a["messageFilters"])
            joined += a["messageFilters"]
        self.trunk = nn.Linear(joined, a["hidden"])
        if a["core"] == "gru":
            self.core = nn.GRUCell(a["hidden"], a["hidden"])
        self.policy = nn.Linear(a["hidden"], a["actions"])
        self.value = nn.Linear(a["hidden"], 1)

    def forward(self, chars, status, message, state, resets, steps, envs):
        a = self.a
        x = self.embed(chars.long().clamp(max=127)).permute(0, 3, 1, 2)
        x = F.elu(self.conv1(F.elu(self.conv0(x)))).flatten(1)
        parts = [x, torch.sign(status) * torch.log1p(status.abs())]
        if a["messageLength"] > 0:
            parts.append(self.message(message))
        h = F.elu(self.trunk(torch.cat(parts, dim=1)))
        if a["core"] == "gru":
            outputs = []
            for t in range(steps):
                keep = (1 - resets[t * envs:(t + 1) * envs].float()).unsqueeze(1)
                state = self.core(h[t * envs:(t + 1) * envs], state * keep)
                outputs.append(state)
            h = torch.cat(outputs, dim=0)
        return self.policy(h), self.value(h).squeeze(1), state


def oni_figures(oni, arch):
    """Oni's update of one 512-step batch on one thread and its inference for 16 envs, the same GRU network."""
    out = subprocess.run([oni, "bench", "learner", "--batch-sizes", "512", "--threads", "1",
                          "--hidden", str(arch["hidden"]), "--filters", str(arch["filters"])],
                         check=True, capture_output=True, text=True).stdout
    block = out[out.index(" gru:"):]  # the GRU network's lines follow its "network … gru:" line
    update = re.search(r"APPO update batch\s+512, 1 thread\s*:\s+([\d.]+) ms", block)
    infer = re.search(r"worker inference batch 16:\s+([\d.]+) ms/step", block)
    return float(update.group(1)), float(infer.group(1)), out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oni", default=".build/release/oni", help="the oni executable (release build)")
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--checkpoint", help="an Oni policy.safetensors to load into the PyTorch model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)

    arch = dict(height=7, width=13, statusSize=4, messageLength=64, actions=5, embedding=8, filters=16,
                messageEmbedding=8, messageFilters=16, hidden=256, core="gru")
    if args.checkpoint:
        from safetensors import safe_open
        with safe_open(args.checkpoint, framework="pt") as f:
            meta = json.loads(f.metadata()["oni"])
            arch = meta["architecture"]
            arch.setdefault("messageLength", 0)
            arch.setdefault("core", "none")
            weights = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("optimizer.")}
        if arch.get("crop", 0) > 0:
            sys.exit("checkpoint uses an egocentric crop (NetHack); this tool's PyTorch network sees the whole map only")
        model = Policy(arch)
        model.load_state_dict(weights, strict=True)
        print(f"checkpoint {args.checkpoint}: version {meta['version']}, {meta['envSteps']} env steps, "
              f"{len(weights)} tensors loaded into PyTorch (strict); timing that network")
    else:
        model = Policy(arch)
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)

    steps, envs = 33, 16
    rows = steps * envs
    chars = torch.randint(32, 127, (rows, arch["height"], arch["width"]), dtype=torch.uint8)
    status = torch.randint(0, 20, (rows, arch["statusSize"])).float()
    message = torch.randint(0, 127, (rows, arch["messageLength"]), dtype=torch.uint8)
    state0 = torch.zeros(envs, arch["hidden"])
    resets = torch.zeros(rows, dtype=torch.uint8)
    actions = torch.randint(0, arch["actions"], (rows,))

    def update():
        logits, values, _ = model(chars, status, message, state0, resets, steps, envs)
        logp = F.log_softmax(logits, dim=1)
        chosen = logp.gather(1, actions.unsqueeze(1)).squeeze(1)
        entropy = -(logp.exp() * logp).sum(1).mean()
        loss = -(chosen * torch.randn(rows)).mean() + 0.5 * (values ** 2).mean() - 0.01 * entropy
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 4.0)
        optimizer.step()

    update()
    start = time.perf_counter()
    for _ in range(args.updates):
        update()
    torch_update = (time.perf_counter() - start) / args.updates * 1000

    with torch.no_grad():
        state = state0.clone()
        one = slice(0, envs)
        start = time.perf_counter()
        for _ in range(200):
            _, _, state = model(chars[one], status[one], message[one], state, resets[one], 1, envs)
        torch_infer = (time.perf_counter() - start) / 200 * 1000

    oni_update, oni_infer, _ = oni_figures(args.oni, arch)
    print(f"network: Oni's recurrent policy ({params} parameters), T=32 B=16, one thread each")
    print(f"APPO update      PyTorch {torch.__version__}: {torch_update:7.1f} ms   Oni: {oni_update:7.1f} ms   "
          f"Oni is {torch_update / oni_update:.2f}x PyTorch's speed")
    print(f"inference (16)   PyTorch: {torch_infer:7.2f} ms   Oni: {oni_infer:7.2f} ms   "
          f"Oni is {torch_infer / oni_infer:.2f}x PyTorch's speed")


if __name__ == "__main__":
    main()
