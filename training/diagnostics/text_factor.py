# Text-side diagnosis (training/README.md): the demo's text tower alone with the word probes
# of --factor-weight.   /usr/bin/python3 training/diagnostics/text_factor.py FACTOR_WEIGHT STEPS
"""Text tower alone: spread term (+ optional factor probes) on the 32 training prompts; then
held-out names' word accuracy under linear probes fitted on the 27 seen object names only."""
import sys, json, numpy as np, torch, torch.nn.functional as F
import os
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'training'))
import train_demo as td, scenes, object_crops as oc
torch.set_num_threads(1); torch.manual_seed(0)
factor_w, steps = float(sys.argv[1]), int(sys.argv[2])
cfg = json.load(open(os.path.join(ROOT, 'data', 'demo/errseg_shapes.config.json')))
params = td.initial_parameters(cfg, torch.Generator().manual_seed(0))
model = td.Model({"model": params}, cfg)
tok = td.Tokenizer(os.path.join(ROOT, 'data', 'clip_bpe_merges.txt'))
def ids(names):
    t = torch.tensor([tok.encode(cfg["prompt_template"].format(n)) for n in names]); return t[:, :int(t.argmax(-1).max()) + 1]
objs = [n for n in scenes.TRAIN_NAMES if n not in scenes.BACKGROUNDS]
def words(names): return (torch.tensor([scenes.SHAPES.index(n.split()[1]) for n in names]),
                          torch.tensor([oc.APPEARANCES.index(n.split()[0]) for n in names]))
train_tok, obj_idx = td.text_tokens(cfg, tok), torch.tensor([scenes.TRAIN_NAMES.index(n) for n in objs])
ws, wa = words(objs)
def new_probe(): return [torch.zeros(4, 32, requires_grad=True), torch.zeros(4, requires_grad=True),
                         torch.zeros(9, 32, requires_grad=True), torch.zeros(9, requires_grad=True)]
def probe_loss(p, e, s, a): return F.cross_entropy(e @ p[0].t() + p[1], s) + F.cross_entropy(e @ p[2].t() + p[3], a)
text_params = [v for k, v in params.items() if td.is_text_tower(k)]
probe = new_probe()
opt = torch.optim.AdamW([{"params": text_params}, {"params": probe}], lr=2e-3, weight_decay=0.01)
for step in range(steps):
    e = model.encode_text(train_tok)
    loss = 3 * td.text_spread(e, 0.07)
    if factor_w: loss = loss + factor_w * probe_loss(probe, e[obj_idx], ws, wa)
    opt.zero_grad(); loss.backward(); opt.step()
with torch.no_grad():
    e_seen, e_held = model.encode_text(train_tok)[obj_idx], model.encode_text(ids(scenes.HELD_OUT))
    sa, ca = td.shape_word_cosines(model.encode_text(train_tok))
hs, ha = words(scenes.HELD_OUT)
post = new_probe(); o2 = torch.optim.Adam(post, 1e-2)        # post-hoc probe on frozen seen embeddings
for _ in range(500):
    l = probe_loss(post, e_seen, ws, wa); o2.zero_grad(); l.backward(); o2.step()
with torch.no_grad():
    acc = lambda p: (float(((e_held @ p[0].t() + p[1]).argmax(1) == hs).float().mean()),
                     float(((e_held @ p[2].t() + p[3]).argmax(1) == ha).float().mean()))
    # nearest seen/held name among the 36 object names by cosine: is "blue triangle" nearest to itself's words?
    print(f"factor {factor_w} steps {steps}: held-out shape/adjective word acc post-hoc probe {acc(post)}"
          + (f" training probe {acc(probe)}" if factor_w else "") + f" same-adj cos {sa:.2f} same-shape cos {ca:.2f}")
