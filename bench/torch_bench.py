"""PyTorch peer of bench/training.ts: each experiment's default trial model built from torchvision in lib/models' layout, timed in
turn with ours, run for run, so that both sides of a ratio see the same load on the machine.

Usage: torch_bench.py THREADS, then one JSON request per line on stdin, one JSON answer per line on stdout:
- {"load": MODEL}: builds MODEL (per model its name, registry model ("resnet18", "resnet50-imagenet", ...), top ("dense",
  "vgg", "pretrained"), frozen, freezeUpTo, flatten, dropout, l2, classes, channels, size, batch and optimizer, lib/train's
  config, as bench/main.ts writes it from the trial); answers {"torch": version, "threads": n, "flops_per_image":
  {"forward": f, "training": t}}. The FER nets ("cnn4", "cnn5", "small-bn-cnn") are built layer for layer as
  lib/models/small-cnn.ts builds them.
- {"warm": MODE, "warm_s": s, "min_run_s": s}: untimed calls of MODE ("forward" or "training") of the model loaded last for
  warm_s seconds (at least two), the last deciding how many calls fill a timed run of min_run_s (bench/training.ts's
  warm-up does the same); answers {"calls": n}.
- {"time": MODE}: one timed run of MODE; answers {"seconds_per_call": s}.
A request that fails answers {"error": message}. Run with Debian's /usr/bin/python3 where python3-torch is installed;
installs nothing.
"""
import json
import math
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


def warm(fn, warm_s, min_run_s):
    """Untimed calls of fn for warm_s seconds (at least two); the calls that fill a run of min_run_s, as the last one says
    (the first pays one-off set-up)."""
    start = time.perf_counter()
    while True:
        fn()
        if time.perf_counter() - start >= warm_s:
            break
    t0 = time.perf_counter()
    fn()
    return max(1, math.ceil(min_run_s / (time.perf_counter() - t0)))


def run(fn, calls):
    """Seconds per call of `calls` calls of fn."""
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


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


def load(s):
    """The model of spec `s` in channels_last with its input, a forward call and a training step (the trial's optimizer,
    frozen parts without gradients and with batch norm in inference mode), and its FLOPs per image."""
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
    opt = optimizer(model, s["optimizer"], s["l2"])
    loss_fn = nn.CrossEntropyLoss()

    def forward():
        model.eval()
        with torch.no_grad():
            model(x)

    def step():
        model.train()
        for module in frozen:
            module.eval()  # frozen batch norm runs in inference mode, as Keras' (and lib/models') does
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return {"forward": forward, "training": step}, {"forward": forward_flops, "training": training_flops}


def main():
    torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(0)
    fns, calls = None, {}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if "load" in request:
                fns, calls = None, {}
                fns, per_image = load(request["load"])
                answer = {"torch": torch.__version__, "threads": torch.get_num_threads(), "flops_per_image": per_image}
            elif "warm" in request:
                mode = request["warm"]
                calls[mode] = warm(fns[mode], request["warm_s"], request["min_run_s"])
                answer = {"calls": calls[mode]}
            else:
                mode = request["time"]
                answer = {"seconds_per_call": run(fns[mode], calls[mode])}
        except Exception as e:  # the bench reports it and goes on without the peer for this model
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
