# Regenerates pil_resize.json: /usr/bin/python3 pil_resize.py (python3-pil).
import json
from PIL import Image
H, W = 5, 7
src = [(i * 37 + 11) % 256 for i in range(H * W)]
im = Image.new("L", (W, H))
im.putdata(src)
cases = []
for (h, w) in [(9, 11), (3, 4), (5, 14), (12, 3), (1, 1), (32, 32)]:
    for name, f in [("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)]:
        out = im.resize((w, h), f)
        cases.append({"interp": name, "h": h, "w": w, "out": list(out.getdata())})
json.dump({"generator": "PIL %s Image.resize, mode L" % Image.__version__,
           "h": H, "w": W, "src": src, "cases": cases}, open("pil_resize.json", "w"))
