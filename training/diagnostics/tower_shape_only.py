# Stage-0 diagnosis (training/README.md): the demo's image tower trained on the crops' shape
# label only.   /usr/bin/python3 training/diagnostics/tower_shape_only.py STEPS [default|gamma1] [LR]
import sys, json, time, numpy as np, torch, torch.nn.functional as F
import os
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'training'))
import train_demo as td, object_crops as oc
torch.set_num_threads(1); torch.manual_seed(0)
cfg = json.load(open(os.path.join(ROOT, 'data', 'demo/errseg_shapes.config.json')))
params = td.initial_parameters(cfg, torch.Generator().manual_seed(0))
if len(sys.argv) > 2 and sys.argv[2] == "gamma1":
    with torch.no_grad():
        for k, v in params.items():
            if k.endswith("gamma"): v.fill_(1e-6)
model = td.Model({"model": params}, cfg)
heads = td.object_heads(cfg, torch.Generator().manual_seed(2))
visual = [v for k, v in params.items() if k.startswith("sem_seg_head.clip_model.visual.")]
opt = torch.optim.Adam(visual + [t for wb in heads.values() for t in wb], float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3)
ev = oc.make_batch(range(5000000, 5000256))
t0 = time.time()
for step in range(int(sys.argv[1])):
    im, sh, _, _ = oc.make_batch(np.random.default_rng(step).integers(0, 2**62, 64))
    lg = td.object_logits(model, heads, im, cfg)
    loss = sum(F.cross_entropy(v[0], torch.from_numpy(sh)) for v in lg.values())
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 100 == 99:
        with torch.no_grad(): e = td.object_logits(model, heads, ev[0], cfg)
        print(step + 1, round(loss.item(), 3), {k: float((v[0].argmax(1).numpy() == ev[1]).mean()) for k, v in e.items()}, round(time.time() - t0), flush=True)
