"""Oni's policy network against the same network in PyTorch: the same outputs, and the time.

1. Outputs. The PyTorch model (parameter for parameter Oni's PolicyNetwork: map embedding, two
   3x3 convolutions with ELU on the whole map or the agent-centred crop, the message CNN, the
   symlog'd status, the trunk, a GRU stepped over the rows with resets, both heads) gets the
   weights of --checkpoint (an Oni policy.safetensors; strict: every name and shape must match)
   or, without one, its own random weights written as an Oni checkpoint. Both run on the same
   random inputs (33 steps x 16 envs, resets included): PyTorch here, Oni through
   `oni bench forward`; the largest differences of logits, values and the GRU state are printed.
2. Time. One APPO-style update (forward, backward through time, Adam) of a T=32, B=16 rollout,
   and worker inference for 16 envs, both on one thread, against `oni bench learner` timing the
   same network (the checkpoint's environment, width and filters).

Tools only: run it through deploy/tools/torch-side-by-side.sh, which makes the venv and builds Oni.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


class MessageEncoder(nn.Module):
    def __init__(self, embedding, filters):
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
        crop = a.get("crop", 0)
        self.view = (crop, crop) if crop > 0 else (a["height"], a["width"])
        self.embed = nn.Embedding(128, a["embedding"])
        self.conv0 = nn.Conv2d(a["embedding"], a["filters"], 3, padding=1)
        self.conv1 = nn.Conv2d(a["filters"], a["filters"], 3, padding=1)
        joined = a["filters"] * self.view[0] * self.view[1] + a["statusSize"]
        if a["messageLength"] > 0:
            self.message = MessageEncoder(a["messageEmbedding"], a["messageFilters"])
            joined += a["messageFilters"]
        self.trunk = nn.Linear(joined, a["hidden"])
        if a["core"] == "gru":
            self.core = nn.GRUCell(a["hidden"], a["hidden"])
        self.policy = nn.Linear(a["hidden"], a["actions"])
        self.value = nn.Linear(a["hidden"], 1)

    def egocentric(self, chars, status):
        """The crop x crop window centred on the agent (status[cropCentre] = column, row); blank (32) off the map."""
        a, crop = self.a, self.a["crop"]
        half = crop // 2
        padded = F.pad(chars.long(), (half, half, half, half), value=32)
        x = status[:, a["cropCentre"][0]].long()
        y = status[:, a["cropCentre"][1]].long()
        offsets = torch.arange(crop)
        rows = torch.arange(chars.shape[0])[:, None, None]
        return padded[rows, (y[:, None] + offsets)[:, :, None], (x[:, None] + offsets)[:, None, :]]

    def forward(self, chars, status, message, state, resets, steps, envs):
        a = self.a
        view = self.egocentric(chars, status) if a.get("crop", 0) > 0 else chars.long()
        x = self.embed(view.clamp(max=127)).permute(0, 3, 1, 2)
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


def random_inputs(a, steps, envs, seed=7):
    g = torch.Generator().manual_seed(seed)
    rows = steps * envs
    chars = torch.randint(32, 127, (rows, a["height"], a["width"]), generator=g, dtype=torch.uint8)
    status = torch.randint(0, 20, (rows, a["statusSize"]), generator=g).float()
    if a.get("crop", 0) > 0:  # the agent somewhere on the map, at its edges too
        status[:, a["cropCentre"][0]] = torch.randint(0, a["width"], (rows,), generator=g).float()
        status[:, a["cropCentre"][1]] = torch.randint(0, a["height"], (rows,), generator=g).float()
    message = torch.randint(0, 127, (rows, a["messageLength"]), generator=g, dtype=torch.uint8)
    resets = (torch.rand(rows, generator=g) < 0.05).to(torch.uint8)
    state = torch.randn(envs, a["hidden"], generator=g) * 0.1 if a["core"] == "gru" else torch.zeros(envs, 0)
    return chars, status, message, state, resets


def write_checkpoint(model, a, path):
    """The model's weights as an Oni checkpoint (for `oni bench forward`; no optimizer state)."""
    meta = dict(formatVersion=2, version=0, optimizerSteps=0, envSteps=0, architecture=a, savedUnixMilliseconds=0)
    tensors = {k: v.detach().contiguous().float() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata={"oni": json.dumps(meta)})


def compare_outputs(oni, model, a, checkpoint, steps=33, envs=16):
    chars, status, message, state, resets = random_inputs(a, steps, envs)
    with torch.no_grad():
        logits, values, last = model(chars, status, message, state, resets, steps, envs)
    with tempfile.TemporaryDirectory() as tmp:
        inputs, outputs = os.path.join(tmp, "inputs.safetensors"), os.path.join(tmp, "outputs.safetensors")
        tensors = {"chars": chars.float(), "status": status, "resets": resets.float()}
        if a["messageLength"] > 0:
            tensors["message"] = message.float()
        if a["core"] == "gru":
            tensors["state"] = state
        save_file(tensors, inputs, metadata={"steps": str(steps), "envs": str(envs)})
        subprocess.run([oni, "bench", "forward", "--checkpoint", checkpoint, "--inputs", inputs, "--output", outputs],
                       check=True, capture_output=True, text=True)
        theirs = load_file(outputs)
    rows = steps * envs
    pairs = [("logits", logits, theirs["logits"].reshape(rows, -1)), ("values", values, theirs["values"])]
    if a["core"] == "gru":
        pairs.append(("GRU state", last, theirs["state"].reshape(envs, -1)))
    for name, ours, oni_out in pairs:
        diff = (ours - oni_out).abs().max().item()
        scale = ours.abs().max().item()
        print(f"outputs  {name:9s}: largest difference {diff:.2e} (largest value {scale:.2e}) over {ours.numel()} numbers")
    return max((o - t).abs().max().item() for _, o, t in pairs)


def oni_figures(oni, a, env):
    """Oni's update of one 512-step batch on one thread and its inference for 16 envs, the same network."""
    out = subprocess.run([oni, "bench", "learner", "--env", env, "--batch-sizes", "512", "--threads", "1",
                          "--hidden", str(a["hidden"]), "--filters", str(a["filters"])],
                         check=True, capture_output=True, text=True).stdout
    name = f"h{a['hidden']} {a['core']}" + (f" crop{a['crop']}" if a.get("crop", 0) > 0 else "") + ":"
    if name not in out:
        sys.exit(f"oni bench learner --env {env} timed no network ending '{name}':\n{out}")
    block = out[out.index(name):]
    update = re.search(r"APPO update batch\s+512, 1 thread\s*:\s+([\d.]+) ms", block)
    infer = re.search(r"worker inference batch 16:\s+([\d.]+) ms/step", block)
    kernel = re.search(r"OpenBLAS kernel (\w+)", out)
    return float(update.group(1)), float(infer.group(1)), kernel.group(1) if kernel else "?"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oni", default=".build/release/oni", help="the oni executable (release build)")
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--checkpoint", help="an Oni policy.safetensors to load into the PyTorch model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)

    env = "grid:keyroom"
    arch = dict(height=7, width=13, statusSize=4, messageLength=64, actions=5, embedding=8, filters=16,
                messageEmbedding=8, messageFilters=16, hidden=256, core="gru", crop=0, cropCentre=[])
    tmp = tempfile.TemporaryDirectory()
    if args.checkpoint:
        from safetensors import safe_open
        with safe_open(args.checkpoint, framework="pt") as f:
            meta = json.loads(f.metadata()["oni"])
            weights = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("optimizer.")}
        arch = meta["architecture"]
        arch.setdefault("messageLength", 0)
        arch.setdefault("core", "none")
        arch.setdefault("crop", 0)
        env = meta.get("env") or ("nethack:score" if arch["crop"] > 0 else env)
        model = Policy(arch)
        model.load_state_dict(weights, strict=True)
        checkpoint = args.checkpoint
        print(f"checkpoint {checkpoint}: {env}, version {meta['version']}, {meta['envSteps']} env steps, "
              f"{len(weights)} tensors loaded into PyTorch (strict)")
    else:
        model = Policy(arch)
        checkpoint = os.path.join(tmp.name, "policy.safetensors")
        write_checkpoint(model, arch, checkpoint)
        print("no --checkpoint: PyTorch's random weights, written as an Oni checkpoint for Oni to load")
    params = sum(p.numel() for p in model.parameters())
    largest = compare_outputs(args.oni, model, arch, checkpoint)

    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    steps, envs = 33, 16
    rows = steps * envs
    chars, status, message, state0, resets = random_inputs(arch, steps, envs, seed=1)
    resets.zero_()
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

    oni_update, oni_infer, kernel = oni_figures(args.oni, arch, env)
    print(f"network: {env}, {params} parameters, core {arch['core']}" + (f", crop {arch['crop']}" if arch["crop"] else "")
          + f"; T=32 B=16, one thread each; OpenBLAS kernel {kernel}")
    print(f"APPO update      PyTorch {torch.__version__}: {torch_update:7.1f} ms   Oni: {oni_update:7.1f} ms   "
          f"Oni is {torch_update / oni_update:.2f}x PyTorch's speed")
    print(f"inference (16)   PyTorch: {torch_infer:7.2f} ms   Oni: {oni_infer:7.2f} ms   "
          f"Oni is {torch_infer / oni_infer:.2f}x PyTorch's speed")
    if largest > 1e-3:
        sys.exit(f"outputs differ by {largest:.2e}: not the same network")


if __name__ == "__main__":
    main()
