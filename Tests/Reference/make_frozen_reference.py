#!/usr/bin/env python3
"""Makes frozen_tiny_se_densenet_adam.json: one Adam step of the tiny SE-DenseNet of
../shared/reference/tiny_se_densenet_r2_adam.json (its parameters, BN buffers, input and labels) with
features.conv0, features.norm0 and features.denseblock1 frozen as PyTorch fine-tuning freezes them:
requires_grad = False on their parameters (Adam gets only the others) and .eval() on their BatchNorm layers
(running statistics in the forward, never updated).

Run once, outside the repository's tests (they read the JSON and need no PyTorch):
    /tmp/torchenv/bin/python Tests/Reference/make_frozen_reference.py ../shared/reference/tiny_se_densenet_r2_adam.json

The JSON keeps only what the test compares against: train_logits and loss of the step, the gradients and the
parameters after the step of the parameters that train, and every BN buffer after the step (the frozen ones equal
the file's starting values). Tensors are {"shape", "data"} in PyTorch layouts, as in ../shared/reference.
"""
import collections
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

FREEZE = ["features.conv0", "features.norm0", "features.denseblock1"]


def covers(prefix, name):
    return name == prefix or name.startswith(prefix + ".")


class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))


class DenseBlock(nn.Module):
    def __init__(self, layers, cin, growth, bn_size):
        super().__init__()
        for i in range(layers):
            self.add_module("denselayer%d" % (i + 1), DenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.children():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class SE(nn.Module):
    def __init__(self, channels, reduction):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels), nn.Sigmoid())

    def forward(self, x):
        w = self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
        return x * w[:, :, None, None]


class BlockWithSE(nn.Module):
    def __init__(self, block, se):
        super().__init__()
        self.dense_block = block
        self.se = se

    def forward(self, x):
        return self.se(self.dense_block(x))


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.norm(x))), 2)


class Net(nn.Module):
    def __init__(self, c):
        super().__init__()
        k, bn, ch, r = c["growth_rate"], c["bn_size"], c["init_channel"], c["reduction"]
        layers = collections.OrderedDict(
            conv0=nn.Conv2d(3, ch, 7, stride=2, padding=3, bias=False), norm0=nn.BatchNorm2d(ch),
            relu0=nn.ReLU(inplace=True), pool0=nn.MaxPool2d(3, stride=2, padding=1))
        for b, n in enumerate(c["block_config"]):
            block = DenseBlock(n, ch, k, bn)
            ch += n * k
            layers["denseblock%d" % (b + 1)] = BlockWithSE(block, SE(ch, r))
            if b < len(c["block_config"]) - 1:
                out = int(ch * c["compression_rate"])
                layers["transition%d" % (b + 1)] = Transition(ch, out)
                ch = out
        layers["norm5"] = nn.BatchNorm2d(ch)
        self.features = nn.Sequential(layers)
        self.classifier = nn.Linear(ch, c["num_classes"])

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(F.relu(self.features(x)), 1).flatten(1))


def tensor(t):
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]}


def load(d):
    return torch.tensor(d["data"], dtype=torch.float32).reshape(d["shape"])


def main(path):
    torch.set_num_threads(1)
    ref = json.load(open(path))
    assert ref["config"].get("placement", "block") == "block" and ref["optimizer"]["name"] == "adam"
    net = Net(ref["config"])
    state = {k: load(v) for k, v in list(ref["params"].items()) + list(ref["buffers"].items())}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all(m.endswith("num_batches_tracked") for m in missing), (missing, unexpected)
    x, labels = load(ref["input"]), torch.tensor(ref["labels"])

    # The module is the reference's: unfrozen, one training forward gives the file's train_logits.
    check = Net(ref["config"])
    check.load_state_dict(state, strict=False)
    check.train()
    assert torch.allclose(check(x), load(ref["train_logits"]), rtol=1e-5, atol=1e-6)

    net.train()
    for name, p in net.named_parameters():
        p.requires_grad = not any(covers(f, name) for f in FREEZE)
    for name, m in net.named_modules():
        if isinstance(m, nn.BatchNorm2d) and any(covers(f, name) for f in FREEZE):
            m.eval()
    trainable = [p for p in net.parameters() if p.requires_grad]
    o = ref["optimizer"]
    opt = torch.optim.Adam(trainable, lr=o["lr"], betas=tuple(o.get("betas", (0.9, 0.999))),
                           eps=o.get("eps", 1e-8), weight_decay=o.get("weight_decay", 0))
    opt.zero_grad()
    logits = net(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {n: tensor(p.grad) for n, p in net.named_parameters() if p.requires_grad}
    opt.step()
    out = {
        "description": "One Adam step of tiny_se_densenet_r2_adam.json's network from its parameters, buffers, input "
                       "and labels, with `freeze` frozen (requires_grad = False, .eval() on their BatchNorm layers); "
                       "made by make_frozen_reference.py with PyTorch " + torch.__version__ + ".",
        "source": "tiny_se_densenet_r2_adam.json",
        "freeze": FREEZE,
        "optimizer": o,
        "train_logits": tensor(logits),
        "loss": loss.item(),
        "grads": grads,
        "after_step_params": {n: tensor(p) for n, p in net.named_parameters() if p.requires_grad},
        "after_step_buffers": {n: tensor(b) for n, b in net.named_buffers() if not n.endswith("num_batches_tracked")},
    }
    target = __file__.rsplit("/", 1)[0] + "/frozen_tiny_se_densenet_adam.json"
    with open(target, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", target, "loss", loss.item())


if __name__ == "__main__":
    main(sys.argv[1])
