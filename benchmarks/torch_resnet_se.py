#!/usr/bin/env python3
"""PyTorch CPU peer for ResNet-18/50 and SE-ResNet (ablate's `bench --model resnet50[-se16]`).

Models: torchvision's ResNet-18 / ResNet-50 (num_classes=2, torchvision's init), taken from torchvision when it
imports and otherwise written out below exactly as torchvision.models.resnet defines them (torchvision's PyPI
wheel cannot load its C operators next to a CPU-only torch wheel; the models need none). SE-ResNet: the same with
an SE module (AdaptiveAvgPool2d(1)-Linear(C, C//r)-ReLU-Linear(C//r, C)-Sigmoid, output x*weights) on every
block's residual branch after its last BN, before the addition (Hu et al.), inserted by wrapping that BN.
Timing as ../shared/peers/torch_densenet_se.py: warm-up steps, then the median over the measured steps;
SGD momentum 0.9. Prints one JSON line.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn

try:
    import torchvision.models as tv_models
except Exception:  # noqa: BLE001 - any import failure means: use the definitions below
    tv_models = None


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(inplanes, planes, stride), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = conv1x1(inplanes, planes), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = conv1x1(planes, planes * 4), nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(64), nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


DEFINITIONS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet34": (BasicBlock, [3, 4, 6, 3]),
               "resnet50": (Bottleneck, [3, 4, 6, 3])}


class SELayer(nn.Module):
    def __init__(self, channels, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels), nn.Sigmoid())

    def forward(self, x):
        w = self.fc(self.avg_pool(x).flatten(1))
        return x * w[:, :, None, None]


def build(name):
    base, _, se = name.partition("-se")
    if tv_models is not None:
        model = getattr(tv_models, base)(num_classes=2)
    else:
        block, layers = DEFINITIONS[base]
        model = ResNet(block, layers, num_classes=2)
    if se:
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            for block in layer:
                last = "bn3" if hasattr(block, "bn3") else "bn2"
                bn = getattr(block, last)
                setattr(block, last, nn.Sequential(bn, SELayer(bn.num_features, int(se))))
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--mode", default="train", choices=["train", "eval", "params"])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.model)
    rec = {"torch": torch.__version__, "torchvision": tv_models is not None, "model": a.model, "mode": a.mode, "size": a.size, "batch": a.batch,
           "threads": torch.get_num_threads(), "channels_last": a.channels_last,
           "params": sum(p.numel() for p in model.parameters())}
    if a.mode != "params":
        fmt = torch.channels_last if a.channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        x = torch.randn(a.batch, 3, a.size, a.size).to(memory_format=fmt)
        y = torch.randint(0, 2, (a.batch,))
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        model.train(a.mode == "train")
        times = []
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            if a.mode == "train":
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            else:
                with torch.no_grad():
                    model(x)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        rec.update(s_per_step=med, img_per_s=a.batch / med, step_s=times,
                   peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
