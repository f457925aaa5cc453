"""PyTorch peer of bench/training.ts: each experiment's default trial model built from torchvision in lib/models' layout, timed as the
TypeScript bench times it (untimed calls for warm_s seconds, then the median of a few repeats, each repeating a call
shorter than min_run_s to fill it).

Usage: torch_bench.py THREADS SPEC, SPEC a JSON object {"repeats": n, "min_run_s": s, "warm_s": s, "models": [...]} that
bench/main.ts writes from the trials: per model its name, registry model ("resnet18", "resnet50-imagenet", ...), top
("dense", "vgg", "pretrained"), frozen, freezeUpTo, flatten, dropout, l2, classes, channels, size, batch and optimizer (lib/train's
config). The FER nets ("cnn4", "cnn5", "small-bn-cnn") are built layer for layer as lib/models/small-cnn.ts builds them.
Prints one JSON object: {"torch": version, "threads": n, "rows": [{"net", "mode", "batch", "images_per_s", "runs_s",
"flops_per_image"}]}. Run with Debian's /usr/bin/python3 where python3-torch is installed; installs nothing.
"""
import json
import math
import statistics
import sys
import time

import torch
import torchvision
from torch import nn

BACKBONES = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
    "resnet101": torchvision.models.resnet101,
    "resnet152": torchvision.models.resnet152,
    "resnet50-imagenet": torchvision.models.resnet50,
}

# lib/models' tops: hidden Dense layers (units, dropout after), then Dense(classes); "dense" is the ResNet's own head.
TOPS = {"dense": [], "vgg": [(4096, 0.5), (4096, 0.5)], "pretrained": [(2048, 0.5), (512, 0.2)]}


def timed(fn, repeats, min_run_s, warm_s):
    """Per-call seconds: the median of `repeats` runs after untimed calls for warm_s seconds (at least two), each run
    repeating a call shorter than min_run_s as often as the last untimed call says fill it (bench/training.ts's timeWarm
    does the same)."""
    warm = time.perf_counter()
    while True:
        fn()
        if time.perf_counter() - warm >= warm_s:
            break
    # The last untimed call decides how many fill a run: the first pays one-off set-up.
    t0 = time.perf_counter()
    fn()
    calls = max(1, math.ceil(min_run_s / (time.perf_counter() - t0)))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - t0) / calls)
    return statistics.median(runs), runs


def small_cnn(spec):
    """lib/models/small-cnn.ts's nets: cnn4 / cnn5 (conv 5x5 + ReLU + max pool 2 blocks, flatten, dropout, dense 128,
    dense) and small-bn-cnn (batch norm on the input, conv 3x3 + ReLU + max pool 2 blocks of 8-64, flatten, dense)."""
    c, size = spec["channels"], spec["size"]
    bn_input = spec["arch"] == "small-bn-cnn"
    filters, kernel, dropout = {
        "cnn4": ([16, 36], 5, 0),
        "cnn5": ([32, 64, 64], 5, 0.3),
        "small-bn-cnn": ([8, 16, 32, 64], 3, 0),
    }[spec["arch"]]
    layers = [nn.BatchNorm2d(c)] if bn_input else []
    for f in filters:
        # Keras' 'same' padding; small-bn-cnn pools with 'same' padding too (odd sizes round up).
        layers += [nn.Conv2d(c, f, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=bn_input)]
        c, size = f, (size + 1) // 2 if bn_input else size // 2
    features = c * size * size
    layers.append(nn.Flatten())
    if bn_input:
        layers.append(nn.Linear(features, spec["classes"]))
    else:
        layers += ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(features, 128), nn.ReLU(), nn.Linear(128, spec["classes"])]
    return nn.Sequential(*layers), None


def frozen_stages(backbone, k):
    """The stem and torchvision's layer1..layer<k> (Keras' conv2..conv<k+1>): lib/models' freezeUpTo k."""
    return [backbone.conv1, backbone.bn1] + [getattr(backbone, f"layer{i}") for i in range(1, k + 1)]


def keras_layout(backbone, study):
    """Reshapes a torchvision ResNet into lib/models/resnet.ts's layout, so that both engines run the same convolutions
    on the same map sizes. Bottleneck blocks stride on their first 1x1 convolution (Keras' ResNet v1; torchvision strides
    on the 3x3). The study's ResNets (every registry ResNet but the ImageNet ResNet-50, which is Keras' own) also have an
    unpadded stem and max pool, and stride in the first block of the first stage too. Their basic blocks' extra ReLU
    before the add is left out: it has no FLOPs."""
    if study:
        backbone.conv1.padding = (0, 0)
        backbone.maxpool.padding = 0
    for stage, layer in enumerate([backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4]):
        first = layer[0]
        if not hasattr(first, "conv3"):
            continue
        stride = 2 if study or stage > 0 else 1
        first.conv1.stride, first.conv2.stride = (stride, stride), (1, 1)
        first.downsample[0].stride = (stride, stride)


def build(spec):
    """The model and its backbone: a torchvision ResNet in lib/models' layout (keras_layout), its features (global
    average pooling, or flattened with `flatten`), Dropout(dropout) when set, then the top's layers."""
    backbone = BACKBONES[spec["arch"]]()
    if spec["channels"] != 3:
        backbone.conv1 = nn.Conv2d(spec["channels"], 64, kernel_size=7, stride=2, padding=3, bias=False)
    keras_layout(backbone, study=spec["arch"] != "resnet50-imagenet")
    backbone.fc = nn.Identity()
    if spec["flatten"]:
        backbone.avgpool = nn.Identity()  # torchvision flattens after avgpool
    with torch.no_grad():
        features = backbone.eval()(torch.zeros(1, spec["channels"], spec["size"], spec["size"])).shape[1]
    layers = [backbone] + ([nn.Dropout(spec["dropout"])] if spec["dropout"] else [])
    for units, dropout in TOPS[spec["top"]]:
        layers += [nn.Linear(features, units), nn.ReLU(), nn.Dropout(dropout)]
        features = units
    layers.append(nn.Linear(features, spec["classes"]))
    return nn.Sequential(*layers), backbone


def flops(model, x):
    """FLOPs per image counted as bench/training.ts counts them (multiply + add = 2): forward = every Conv2d and
    Linear; a training step adds the weight gradient of each trainable one and the input gradient of each one after
    the first trainable one, in execution order."""
    counts = []

    def hook(module, _inputs, out):
        if isinstance(module, nn.Conv2d):
            per_out = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            per_out = module.in_features
        trainable = any(p.requires_grad for p in module.parameters())
        counts.append((2 * out[0].numel() * per_out, trainable))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x[:1])
    for h in handles:
        h.remove()
    forward = sum(f for f, _ in counts)
    gradients = 0
    below_trainable = False
    for f, trainable in counts:
        if below_trainable:
            gradients += f
        if trainable:
            gradients += f
            below_trainable = True
    return forward, forward + gradients


def optimizer(model, o, l2):
    """lib/train's optimizer, epsilon 1e-7 as Keras. Keras' L2 (l2 * the sum of squared kernels, in the loss) is weight
    decay 2 * l2 on the convolution and dense kernels for SGD and Adam; Keras' AdamW decay is torch's AdamW's (no
    trial combines it with L2)."""
    params = [p for p in model.parameters() if p.requires_grad]
    betas = (o.get("beta1", 0.9), o.get("beta2", 0.999))
    eps = o.get("epsilon", 1e-7)
    if o["kind"] == "adamw":
        return torch.optim.AdamW(params, lr=o["lr"], betas=betas, eps=eps, weight_decay=o.get("weightDecay", 0.004))
    kernels = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad]
    ids = {id(p) for p in kernels}
    groups = [{"params": kernels, "weight_decay": 2 * l2}, {"params": [p for p in params if id(p) not in ids], "weight_decay": 0}]
    if o["kind"] == "sgd":
        return torch.optim.SGD(groups, lr=o["lr"], momentum=o.get("momentum", 0), nesterov=o.get("nesterov", False))
    return torch.optim.Adam(groups, lr=o["lr"], betas=betas, eps=eps)


def main():
    threads = int(sys.argv[1])
    spec = json.loads(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    for s in spec["models"]:
        model, backbone = small_cnn(s) if s["arch"] in ("cnn4", "cnn5", "small-bn-cnn") else build(s)
        frozen = [backbone] if s["frozen"] else frozen_stages(backbone, s["freezeUpTo"]) if s.get("freezeUpTo") is not None else []
        for module in frozen:
            for p in module.parameters():
                p.requires_grad = False
        # channels_last was the fastest layout on these CPUs (shared/spec/perf-notes.md).
        model = model.to(memory_format=torch.channels_last)
        x = torch.rand(s["batch"], s["channels"], s["size"], s["size"]).mul(255).to(memory_format=torch.channels_last)
        y = torch.randint(0, s["classes"], (s["batch"],))
        model.eval()
        forward_flops, training_flops = flops(model, x)

        def forward():
            with torch.no_grad():
                model(x)

        sec, runs = timed(forward, spec["repeats"], spec["min_run_s"], spec["warm_s"])
        rows.append({"net": s["name"], "mode": "forward", "batch": s["batch"], "images_per_s": s["batch"] / sec, "runs_s": runs, "flops_per_image": forward_flops})

        model.train()
        for module in frozen:
            module.eval()  # frozen batch norm runs in inference mode, as Keras' (and lib/models') does
        opt = optimizer(model, s["optimizer"], s["l2"])
        loss_fn = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        sec, runs = timed(step, spec["repeats"], spec["min_run_s"], spec["warm_s"])
        rows.append({"net": s["name"], "mode": "training", "batch": s["batch"], "images_per_s": s["batch"] / sec, "runs_s": runs, "flops_per_image": training_flops})
        del model, backbone, frozen, opt
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
