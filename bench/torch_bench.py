"""PyTorch peer of bench/training.ts: torchvision ResNet-18/50, 96x96, batch 32, 2 threads.

Prints one JSON object: {"torch": version, "threads": n, "rows": [{"net", "mode", "images_per_s", "runs_s", "flops_per_image"}]}.
Run by bench/main.ts with Debian's /usr/bin/python3 when python3-torch is installed; installs nothing.
Timing as in the TypeScript bench: one untimed warm-up, then the median of a few repeats.
"""
import json
import statistics
import sys
import time

import torch
import torchvision

SIZE = 96
BATCH = 32
CLASSES = 7
REPEATS = 3


def timed(fn):
    fn()
    runs = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs


def forward_flops(model, x):
    """FLOPs per image of every Conv2d and Linear (multiply + add = 2), counted as bench/training.ts does."""
    counts = []

    def hook(module, _inputs, out):
        if isinstance(module, torch.nn.Conv2d):
            per_out = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            per_out = module.in_features
        counts.append(2 * out[0].numel() * per_out)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(x[:1])
    for h in handles:
        h.remove()
    # A training step adds the weight gradient of each layer and the input gradient of all but the first.
    return sum(counts), 3 * sum(counts) - counts[0]


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    for name, build in (("ResNet-18", torchvision.models.resnet18), ("ResNet-50", torchvision.models.resnet50)):
        # channels_last was the fastest layout on these CPUs (shared/spec/perf-notes.md).
        model = build(num_classes=CLASSES).to(memory_format=torch.channels_last)
        x = torch.rand(BATCH, 3, SIZE, SIZE).to(memory_format=torch.channels_last)
        y = torch.randint(0, CLASSES, (BATCH,))

        model.eval()
        flops = dict(zip(("forward", "training"), forward_flops(model, x)))

        def forward():
            with torch.no_grad():
                model(x)

        s, runs = timed(forward)
        rows.append({"net": name, "mode": "forward", "images_per_s": BATCH / s, "runs_s": runs, "flops_per_image": flops["forward"]})

        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        s, runs = timed(step)
        rows.append({"net": name, "mode": "training", "images_per_s": BATCH / s, "runs_s": runs, "flops_per_image": flops["training"]})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
