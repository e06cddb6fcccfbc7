# Stage-0 diagnosis (training/README.md): a plain CNN on object_crops' one-shape crops.
#   /usr/bin/python3 training/diagnostics/plain_cnn.py STEPS bn|ln|stem
# bn: batch norm; ln: per-pixel layer norm instead; stem: batch norm after a 4x4 stride-4 stem.
# Prints the shape accuracy on 256 fixed fresh crops every 100 steps.
import sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import os
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'training')); import object_crops as oc
torch.set_num_threads(1); torch.manual_seed(0)
VAR = sys.argv[2]
class ChannelLN(nn.Module):
    def __init__(self, o): super().__init__(); self.ln = nn.LayerNorm(o, eps=1e-6)
    def forward(self, x): return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
def norm(o): return ChannelLN(o) if VAR == "ln" else nn.BatchNorm2d(o)
def blk(i, o): return [nn.Conv2d(i, o, 3, 2, 1), norm(o), nn.ReLU(), nn.Conv2d(o, o, 3, 1, 1), norm(o), nn.ReLU()]
if VAR == "stem":   # ConvNeXt-like patchify: 4x4 stride 4 into 16 channels, then strides 8..32
    layers = [nn.Conv2d(3, 16, 4, 4), norm(16), nn.ReLU(), nn.Conv2d(16, 16, 3, 1, 1), norm(16), nn.ReLU(),
              *blk(16, 32), *blk(32, 64), *blk(64, 128)]
else:
    layers = [*blk(3, 16), *blk(16, 32), *blk(32, 64), *blk(64, 64), *blk(64, 128)]
net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 4))
opt = torch.optim.Adam(net.parameters(), 1e-3)
ev = oc.make_batch(range(5000000, 5000256))
def prep(x): return (torch.from_numpy(x).permute(0, 3, 1, 2).float() - 115) / 58
t0 = time.time()
for step in range(int(sys.argv[1])):
    im, sh, _, _ = oc.make_batch(np.random.default_rng(step).integers(0, 2**62, 64))
    loss = F.cross_entropy(net(prep(im)), torch.from_numpy(sh))
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 100 == 99:
        net.eval()
        with torch.no_grad(): acc = (net(prep(ev[0])).argmax(1).numpy() == ev[1]).mean()
        net.train(); print(step + 1, round(loss.item(), 3), acc, round(time.time() - t0), flush=True)
